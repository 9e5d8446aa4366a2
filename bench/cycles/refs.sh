#!/bin/bash
# Converged references, 128x128 (the still life 160x100), maxDepth 8 (Cycles 6 bounces), ref_spp spp (sizes.sh):
# tessera (deterministic: its n-spp image is the first n samples of this one) and
# Cycles with seed 1 (independent of the seed-0 test images). Two chains in parallel,
# one thread each; not timed.
cd "$(dirname "$0")"; mkdir -p img logs
. ./sizes.sh
( for s in ${SCENES:-cornell bunny stilllife}; do
    N=$(ref_spp $s)
    ./tessera render -q -no-mdns -local 1 $(size_flags $s) -spp $N -stats logs/tref_$s.json -o img/t_${s}_ref.pfm scenes/${s}_d8.json
  done ) &
p1=$!
( for s in ${SCENES:-cornell bunny stilllife}; do
    N=$(ref_spp $s)
    [ -f img/c_${s}_ref.pfm ] && [ -z "$FRESH" ] && continue  # Cycles does not change
    blender -b -t 1 -P cycles_scene.py -- scenes/${s}_d8.json $(size_flags $s) -spp $N -seed 1 -out img/c_${s}_ref_ -log logs/cref.jsonl > logs/cref_$s.log 2>&1
    mv img/c_${s}_ref_$N.pfm img/c_${s}_ref.pfm
  done ) &
p2=$!
wait $p1 $p2
/usr/bin/python3 pfm.py img/t_*_ref.pfm img/c_*_ref.pfm
