#!/bin/bash
# The whole tessera vs Blender/Cycles comparison; prints the final ratios. Kept outside the test
# suite (no Go here; make test never runs it). Writes only under this directory (img/, logs/,
# scenes/, ./tessera: all ignored by git).
#   ./compare.sh              build tessera from this checkout; its images again when the binary
#                             changed; Cycles' images only if missing; interleaved timing; report
#   R=7 ./compare.sh          runs per renderer and configuration (default 7, interleaved A B A B)
#   FRESH=1 ./compare.sh      also redo Cycles' images and the depth check (~40 min more on one core)
#   TWO_THREADS=1 ./compare.sh  also time 2 threads (the equal-quality figures are per core)
#   RES256=1 ./compare.sh     also time cornell at 256x256 (does throughput depend on the size?)
#   DEPTH2=1 ./compare.sh     also time cornell and bunny at maxDepth 2 (direct light)
#   SCENES="cornell bunny"    a subset (default: cornell bunny stilllife)
#   REPORT_ONLY=1 ./compare.sh  just print the tables from logs/
# Needs: blender 3.4 (apt), python3-numpy (apt), Go 1.26.
set -e
cd "$(dirname "$0")"
export PATH=$PATH:/usr/local/go/bin
R=${R:-7}
export TESSERA_REPO=${TESSERA_REPO:-$(cd ../.. && pwd)}
SCENES=${SCENES:-cornell bunny stilllife}; export SCENES
if [ -z "$REPORT_ONLY" ]; then
  here=$PWD; (cd "$TESSERA_REPO" && go build -o "$here/tessera" ./cmd/tessera)
  /usr/bin/python3 make_scenes.py > /dev/null
  mkdir -p logs img
  if [ -n "$FRESH" ]; then ./check_depth.sh; fi
  . ./sizes.sh
  sum=$(sha256sum tessera | cut -c1-16)
  if [ "$sum" != "$(cat logs/tessera.sha256 2>/dev/null)" ] || [ -n "$FRESH" ]; then
    rm -f logs/tessera.sha256
    ./refs.sh            # tessera's references; Cycles' if missing
    ./rmse_images.sh
    ./noise_d2.sh
    echo "$sum" > logs/tessera.sha256
  fi
  /usr/bin/python3 rmse.py
  stamp=$(date +%Y%m%d-%H%M%S)
  for f in timing pt_timing; do if [ -f logs/$f.jsonl ]; then mv logs/$f.jsonl logs/$f.$stamp.jsonl; fi; done
  echo "load before timing: $(cat /proc/loadavg)"
  for s in $SCENES; do
    ./time.sh $s 1 128 $R $(size_wh $s)
    [ -z "$TWO_THREADS" ] || ./time.sh $s 2 256 $R $(size_wh $s)
  done
  if [ -n "$RES256" ]; then ./time.sh cornell 1 64 $R 256 256; fi
  if [ -n "$DEPTH2" ]; then ./time.sh cornell_d2 1 256 $R; ./time.sh bunny_d2 1 256 $R; fi
  echo "load after timing: $(cat /proc/loadavg)"
fi
/usr/bin/python3 report.py
[ ! -f logs/noise_d2.txt ] || cat logs/noise_d2.txt
