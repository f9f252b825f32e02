#!/usr/bin/env bash
# Build the TensorRT engine of a calibrated bundle on the device that will run it, with trtexec.
#
# Same engine as `calibrate build` (calibrate/tensorrt_build.py; `calibrate trtexec` prints this
# command for a bundle): INT8 from the graph's explicit Q/DQ nodes plus FP16 for everything else,
# one optimization profile for batch MIN..MAX tuned for OPT, a timing cache kept in the bundle.
#
# JetPack 6.x ships TensorRT 10.3 with trtexec at /usr/src/tensorrt/bin/trtexec. Its ONNX parser
# reads the opset-18 graph calibrate exports (the front end is Conv/MatMul/Log, no STFT op, which
# TensorRT parses only from 10.5). Engines are tied to the GPU model and TensorRT version: build on
# the target, never copy one across devices. The build takes minutes on an Orin the first time,
# seconds with the timing cache. Afterwards SHA256SUMS is rewritten so that edge accepts the bundle.
#
# Usage: deploy/build_engine.sh BUNDLE [int8|fp16] [OPT_BATCH] [MAX_BATCH]
set -euo pipefail

bundle=${1:?usage: deploy/build_engine.sh BUNDLE [int8|fp16] [OPT_BATCH] [MAX_BATCH]}
precision=${2:-int8}
opt_batch=${3:-8}
max_batch=${4:-16}
min_batch=1
workspace_mib=1024
python=${PYTHON:-python3}
trtexec=${TRTEXEC:-$(command -v trtexec || echo /usr/src/tensorrt/bin/trtexec)}

case "$precision" in
  int8) onnx="$bundle/model.int8.onnx"; flags=(--int8 --fp16) ;;
  fp16) onnx="$bundle/model.onnx"; flags=(--fp16) ;;
  *) echo "build_engine.sh: precision must be int8 or fp16, got '$precision'" >&2; exit 2 ;;
esac
[[ -f "$onnx" ]] || { echo "build_engine.sh: $onnx is missing; run calibrate on the workstation first" >&2; exit 2; }

# Tensor name and [channels, samples] come from the bundle's spec (load_spec refuses a tampered bundle);
# the file name from the GPU, as edge looks it up.
io=$("$python" -c "import sys; from edge.bundle import load_spec
s = load_spec(sys.argv[1]); print(s.input_name, 'x'.join(map(str, s.input_shape[1:])))" "$bundle")
read -r input shape <<<"$io"
stem=$("$python" -c "from edge.backends.tensorrt_backend import gpu_name; from edge.bundle import engine_file
name = gpu_name(); assert name, 'no CUDA GPU visible'; print(engine_file(name).removesuffix('.engine'))")

"$trtexec" --onnx="$onnx" "${flags[@]}" \
  --minShapes="$input:${min_batch}x$shape" --optShapes="$input:${opt_batch}x$shape" \
  --maxShapes="$input:${max_batch}x$shape" \
  --memPoolSize=workspace:${workspace_mib}M \
  --timingCacheFile="$bundle/$stem.timing.cache" \
  --saveEngine="$bundle/$stem.engine"

"$python" -c "import sys; from edge.bundle import write_checksums; write_checksums(sys.argv[1])" "$bundle"
echo "wrote $bundle/$stem.engine"
