# Per-scene settings of the comparison (sourced): image size (the still life keeps its camera's
# aspect), reference spp (the still life's 4,096: it costs 3 times cornell's per sample), test spp.
size_flags() { case $1 in stilllife*) echo "-width 160 -height 100";; *) echo "-width 128 -height 128";; esac; }
size_wh() { case $1 in stilllife*) echo "160 100";; *) echo "128 128";; esac; }
ref_spp() { case $1 in stilllife*) echo "${REFSPP_STILLLIFE:-4096}";; *) echo "${REFSPP:-8192}";; esac; }
test_spps() { case $1 in stilllife*) echo "${NS_STILLLIFE:-4,16,64,256}";; *) echo "${NS:-4,16,64,256,1024}";; esac; }
