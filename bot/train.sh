#!/usr/bin/env bash
# Train the Rasa model unless one exists for the current training inputs (see bot_model_hash).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$BOT_ROOT"
[[ -x "$RASA_VENV/bin/rasa" ]] || { echo "no Rasa venv at $RASA_VENV: run 'make rasa-venv'" >&2; exit 1; }
model=$(bot_model_path)
if [[ -f "$model" && "${1:-}" != "--force" ]]; then
    echo "model up to date: $model"
    exit 0
fi
mkdir -p "$RASA_MODELS" "$RASA_CACHE_DIRECTORY"
start=$(date +%s)
"$RASA_VENV/bin/rasa" train --config bot/config.yml --domain bot/domain.yml \
    --data nlu_data bot/data --out "$RASA_MODELS" \
    --fixed-model-name "$(basename "$model" .tar.gz)"
echo "trained $model in $(( $(date +%s) - start )) s"
# Keep this model and the one before it; each is ~45 MB.
ls -t "$RASA_MODELS"/tawasul-*.tar.gz | tail -n +3 | xargs -r rm -f
