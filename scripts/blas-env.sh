# Sourced by the scripts: OpenBLAS misdetects some virtual CPUs (falls back to "Prescott" kernels, 5–10×
# slower); pick the AVX-512 kernels the CPU really has, unless the user chose already. The swifttune
# executables do the same by themselves (BLASRuntime); test runners need the variable up front.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -r /proc/cpuinfo ]; then
    flags=$(grep -m1 '^flags' /proc/cpuinfo)
    case "$flags" in
        *avx512_bf16*) export OPENBLAS_CORETYPE=COOPERLAKE ;;
        *avx512bw*) export OPENBLAS_CORETYPE=SKYLAKEX ;;
    esac
fi
