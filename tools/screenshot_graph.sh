#!/usr/bin/env bash
# Renders a spec's graph to SVG and screenshots it in headless Chromium, to look at it as a
# reader would:  tools/screenshot_graph.sh specs/resnet50.yaml out/resnet50.png [WIDTHxHEIGHT]
# Needs Graphviz (dot) and Chromium: apt-get install graphviz chromium
set -euo pipefail
spec=$1 png=$2 size=${3:-900x1600}
svg=${png%.png}.svg
python -m archspec graph "$spec" --format svg -o "$svg"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="${size/x/,}" \
  --screenshot="$(realpath -m "$png")" "file://$(realpath "$svg")" 2>/dev/null
echo "wrote $svg and $png"
