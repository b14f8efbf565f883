#!/bin/bash
# Speaker adaptation (MLLR, optionally MAP) of pocketsphinx 5's bundled en-us PTM model
# with Debian bookworm's sphinxtrain (1.0.8+5prealpha) + sphinxbase-utils + pocketsphinx
# (for sphinx_fe and pocketsphinx_mdef_convert).
#
# usage: adapt.sh SRCDIR OUTDIR [--map]
#   SRCDIR: WAVs + sentences.txt (bench-voice format) or transcripts.txt ('file.wav | sentence')
#   OUTDIR: gets mllr_matrix (load with pocketsphinx Config mllr=OUTDIR/mllr_matrix)
#           and, with --map, OUTDIR/en-us-map/ (a MAP-adapted model dir: Config hmm=...)
# env: PY = python with robot_planner + pocketsphinx (default .venv/bin/python)
set -euo pipefail
SRC=$(realpath "$1"); OUT=$(realpath -m "$2"); MAP=${3:-}
PY=${PY:-.venv/bin/python}
BIN=$(dirname "$(realpath "$0")")
ST=/usr/lib/sphinxtrain
for t in sphinx_fe pocketsphinx_mdef_convert; do command -v $t >/dev/null || { echo "need $t (apt-get install sphinxbase-utils pocketsphinx)"; exit 1; }; done
[ -x $ST/bw ] || { echo "need sphinxtrain (apt-get install sphinxtrain)"; exit 1; }
MP=$("$PY" -c "import pocketsphinx; print(pocketsphinx.get_model_path())")/en-us
mkdir -p "$OUT"; W=$OUT/work; rm -rf "$W"; mkdir -p "$W/acc" "$W/mfc"
# 1. the model in a form sphinxtrain reads: text mdef, mixture_weights from sendump
cp -r "$MP/en-us" "$W/hmm"
pocketsphinx_mdef_convert -text "$W/hmm/mdef" "$W/hmm/mdef.txt" 2>"$W/mdef.log"
"$PY" "$BIN/sendump2mixw.py" "$W/hmm/sendump" "$W/hmm/mixture_weights"
# 2. audio (16 kHz mono, padded + dithered as SpeechRecognizer does), ids, transcripts, dict
"$PY" "$BIN/prep.py" "$SRC" "$W" "$MP/cmudict-en-us.dict"
# 3. features with the model's own front-end parameters (VAD off: pocketsphinx 5 has none)
sphinx_fe -argfile "$W/hmm/feat.params" -samprate 16000 -remove_silence no \
  -c "$W/adapt.fileids" -di "$W/wav" -do "$W/mfc" -ei wav -eo mfc -mswav yes >"$W/fe.log" 2>&1
# 4. Baum-Welch statistics against the unadapted model
$ST/bw -hmmdir "$W/hmm" -moddeffn "$W/hmm/mdef.txt" -ts2cbfn .ptm. \
  -feat 1s_c_d_dd -svspec 0-12/13-25/26-38 -cmn current -agc none \
  -dictfn "$W/adapt.dict" -fdictfn "$W/hmm/noisedict" \
  -ctlfn "$W/adapt.fileids" -lsnfn "$W/adapt.transcription" -cepdir "$W/mfc" \
  -accumdir "$W/acc" >"$W/bw.log" 2>&1 || { tail -20 "$W/bw.log"; exit 1; }
grep -E "overall>|ERROR" "$W/bw.log" | tail -3 || true
# 5. one global MLLR transform of the means
$ST/mllr_solve -meanfn "$W/hmm/means" -varfn "$W/hmm/variances" \
  -outmllrfn "$OUT/mllr_matrix" -accumdir "$W/acc" >"$W/mllr.log" 2>&1 || { tail -20 "$W/mllr.log"; exit 1; }
echo "wrote $OUT/mllr_matrix"
# 6. optional MAP update of means/variances/mixture weights/transitions
if [ "$MAP" = "--map" ]; then
  A=$OUT/en-us-map; rm -rf "$A"; cp -r "$W/hmm" "$A"; rm -f "$A/sendump" "$A/mdef.txt"
  $ST/map_adapt -moddeffn "$W/hmm/mdef.txt" -ts2cbfn .ptm. \
    -meanfn "$W/hmm/means" -varfn "$W/hmm/variances" -mixwfn "$W/hmm/mixture_weights" \
    -tmatfn "$W/hmm/transition_matrices" -accumdir "$W/acc" \
    -mapmeanfn "$A/means" -mapvarfn "$A/variances" -mapmixwfn "$A/mixture_weights" \
    -maptmatfn "$A/transition_matrices" >"$W/map.log" 2>&1 || { tail -20 "$W/map.log"; exit 1; }
  echo "wrote $A (no sendump: pocketsphinx reads mixture_weights)"
fi
