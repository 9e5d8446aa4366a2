#!/bin/bash
# Test images for the equal-quality comparison: 128x128 (the still life 160x100), depth 8, at
# test_spps (sizes.sh: 4, 16, 64, 256, 1024; the still life to 256); tessera (its deterministic
# samples) and Cycles seed 0, Cycles' only if missing (or FRESH=1). Not timed (time.sh is).
cd "$(dirname "$0")"; mkdir -p img logs
. ./sizes.sh
for s in ${SCENES:-cornell bunny stilllife}; do
  NS=$(test_spps $s)
  for n in ${NS//,/ }; do
    ./tessera render -q -no-mdns -local 1 $(size_flags $s) -spp $n -o img/t_${s}_$n.pfm scenes/${s}_d8.json
  done
  [ -n "$TESSERA_ONLY" ] && continue
  [ -f img/c_${s}_${NS##*,}.pfm ] && [ -z "$FRESH" ] && continue  # Cycles does not change
  blender -b -t 1 -P cycles_scene.py -- scenes/${s}_d8.json $(size_flags $s) -spp $NS -seed 0 -out img/c_${s}_ > logs/rmse_images_$s.log 2>&1
done
