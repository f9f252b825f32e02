#!/usr/bin/env bash
# Build the TensorRT engine of a calibrated bundle on the device that will run it, with trtexec.
#
# Same engine as `calibrate build` (calibrate/tensorrt_build.py; `calibrate trtexec` prints this
# command for a bundle): a strongly typed network (--stronglyTyped) from the graph of the chosen
# precision, so every layer runs in the type calibrate verified (fp16: model.fp16.onnx, its front end
# float32 where fp16 measured worse; int8: model.int8.onnx's Q/DQ nodes, float32 elsewhere), one
# optimization profile for batch MIN..MAX tuned for OPT, a timing cache kept in the bundle. The
# default precision is the one calibration.json chose for TensorRT (fp16 once verified); a precision
# calibrate rejected or never verified is refused.
#
# JetPack 6.x ships TensorRT 10.3 with trtexec at /usr/src/tensorrt/bin/trtexec. Its ONNX parser
# reads the opset-18 graph calibrate exports (the front end is Conv/MatMul/Log, no STFT op, which
# TensorRT parses only from 10.5). Engines are tied to the GPU model and TensorRT version: build on
# the target, never copy one across devices. The build takes minutes on an Orin the first time,
# seconds with the timing cache. Afterwards SHA256SUMS is rewritten so that edge accepts the bundle.
#
# Usage: deploy/build_engine.sh BUNDLE [fp16|int8|fp32|chosen] [OPT_BATCH] [MAX_BATCH]
set -euo pipefail

bundle=${1:?usage: deploy/build_engine.sh BUNDLE [fp16|int8|fp32|chosen] [OPT_BATCH] [MAX_BATCH]}
precision=${2:-chosen}
opt_batch=${3:-8}
max_batch=${4:-16}
min_batch=1
workspace_mib=1024
python=${PYTHON:-python3}
trtexec=${TRTEXEC:-$(command -v trtexec || echo /usr/src/tensorrt/bin/trtexec)}

# Tensor name and [channels, samples] come from the bundle's spec (load_spec refuses a tampered bundle),
# the precision and its graph from calibration.json (as edge reads them), the file name from the GPU.
io=$("$python" -c "import sys; from pathlib import Path
from edge.model.bundle import PRECISION_FILES, load_spec
from edge.model.backends import chosen_precision, verified_precisions
bundle, precision = Path(sys.argv[1]), sys.argv[2]
s = load_spec(bundle)
precision = chosen_precision(bundle, 'tensorrt') if precision == 'chosen' else precision
ok = precision in verified_precisions(bundle)
print(s.input_name, 'x'.join(map(str, s.input_shape[1:])), precision, PRECISION_FILES.get(precision, '-'), int(ok))" \
  "$bundle" "$precision")
read -r input shape precision onnx_file verified <<<"$io"
[[ "$verified" == 1 ]] || { echo "build_engine.sh: $precision has not passed calibrate's parity gates for $bundle" >&2; exit 2; }
onnx="$bundle/$onnx_file"
[[ -f "$onnx" ]] || { echo "build_engine.sh: $onnx is missing; run calibrate on the workstation first" >&2; exit 2; }
stem=$("$python" -c "from edge.model.backends.tensorrt_backend import gpu_name; from edge.model.bundle import engine_file
name = gpu_name(); assert name, 'no CUDA GPU visible'; print(engine_file(name).removesuffix('.engine'))")

"$trtexec" --onnx="$onnx" --stronglyTyped \
  --minShapes="$input:${min_batch}x$shape" --optShapes="$input:${opt_batch}x$shape" \
  --maxShapes="$input:${max_batch}x$shape" \
  --memPoolSize=workspace:${workspace_mib}M \
  --timingCacheFile="$bundle/$stem.timing.cache" \
  --saveEngine="$bundle/$stem.engine"

"$python" -c "import sys; from edge.model.bundle import write_checksums; write_checksums(sys.argv[1])" "$bundle"
echo "wrote $bundle/$stem.engine ($precision)"
