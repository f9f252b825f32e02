#!/usr/bin/env bash
# Install the eeg-edge bedside runtime on an NVIDIA Jetson (JetPack 6: Ubuntu 22.04, Python 3.10,
# CUDA 12, TensorRT 10.3) as a systemd service. Run as root from a checkout of the repository:
#   sudo deploy/jetson/setup.sh /path/to/bundle
# The TensorRT engine must be built on this device (engines are not portable):
#   deploy/build_engine.sh /opt/eeg-edge/bundle   (trtexec from JetPack; no torch needed on the device)
set -euo pipefail

PREFIX=/opt/eeg-edge
CONF=/etc/eeg-edge
STATE=/var/lib/eeg-edge
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUNDLE=${1:?usage: setup.sh BUNDLE_DIR}

apt-get update
apt-get install -y --no-install-recommends python3-venv python3-pip cmake build-essential

id eeg-edge >/dev/null 2>&1 || useradd --system --home "$STATE" --shell /usr/sbin/nologin eeg-edge
install -d -o eeg-edge -g eeg-edge "$STATE" "$STATE/logs"
install -d "$PREFIX" "$CONF"

# --system-site-packages: JetPack installs TensorRT's Python bindings (python3-libnvinfer) system-wide;
# they are not on PyPI for aarch64.
python3 -m venv --system-site-packages "$PREFIX/.venv"
"$PREFIX/.venv/bin/pip" install -q --upgrade pip
"$PREFIX/.venv/bin/pip" install -q -c "$SRC/constraints.txt" "$SRC[cpu]" cuda-python  # [cpu]: onnxruntime

# pylsl needs liblsl; build it when the wheel brings none for this platform.
if ! "$PREFIX/.venv/bin/python" -c "import pylsl" 2>/dev/null; then
    work=$(mktemp -d)
    git clone --depth 1 https://github.com/sccn/liblsl.git "$work/liblsl"
    cmake -S "$work/liblsl" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLSL_UNIXFOLDERS=ON
    cmake --build "$work/build" -j"$(nproc)" --target install
    ldconfig
fi

cp -r "$BUNDLE" "$PREFIX/bundle"
[ -f "$CONF/edge.env" ] || install -m 0644 "$SRC/deploy/jetson/edge.env" "$CONF/edge.env"
[ -f "$CONF/edge.toml" ] || install -m 0644 "$SRC/deploy/jetson/edge.toml" "$CONF/edge.toml"
install -m 0644 "$SRC/deploy/jetson/eeg-edge.service" /etc/systemd/system/eeg-edge.service

# Lock clocks at maximum so latency does not depend on the governor (MAXN power mode).
command -v nvpmodel >/dev/null && nvpmodel -m 0 || true
command -v jetson_clocks >/dev/null && jetson_clocks || true

"$PREFIX/.venv/bin/edge" sys-info --bundle "$PREFIX/bundle"
systemctl daemon-reload
systemctl enable --now eeg-edge.service
echo "eeg-edge installed: journalctl -u eeg-edge -f; predictions in $STATE/logs/"
