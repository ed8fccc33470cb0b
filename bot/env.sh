# Sourced by the bot scripts: one place for the Rasa venv path and the repo-local caches.
# shellcheck shell=bash
BOT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export RASA_VENV=${RASA_VENV:-$BOT_ROOT/.venv-rasa}
export RASA_TELEMETRY_ENABLED=false
export RASA_CACHE_DIRECTORY=${RASA_CACHE_DIRECTORY:-$BOT_ROOT/.rasa/cache}
# Rasa, Keras and matplotlib write under $HOME unless told otherwise; keep it all in .rasa/.
export MPLCONFIGDIR=$BOT_ROOT/.rasa/matplotlib
export KERAS_HOME=$BOT_ROOT/.rasa/keras
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
export SQLALCHEMY_SILENCE_UBER_WARNING=1
# The config names bot.rasa_ext.* components: Rasa must import them from the repo root.
export PYTHONPATH=$BOT_ROOT${PYTHONPATH:+:$PYTHONPATH}
RASA_MODELS=$BOT_ROOT/bot/models
RASA_RUN=${RASA_RUN:-$BOT_ROOT/.rasa/run}

# The training inputs' hash: a model is reused when none of these changed. Component code
# (bot/rasa_ext) is imported at run time, and endpoints/credentials are read at run time, so
# editing those needs a restart, not a retrain.
bot_model_hash() {
    (cd "$BOT_ROOT" && find nlu_data bot/data bot/*.yml -type f \
        \( -name '*.yml' -o -name '*.yaml' \) ! -name endpoints.yml ! -name credentials.yml -print0 \
        | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
}
bot_model_path() { echo "$RASA_MODELS/tawasul-$(bot_model_hash).tar.gz"; }
