"""Speech to command text, free of ROS: pocketsphinx constrained by the planner's grammar.

The recogniser searches only sentences of the offline command language
(`robot_planner.planning.jsgf`) and accepts only a whole one: a search that ends part-way
through a sentence is `NotUnderstood`, with its best guess, never a command. The voice
node and ``robot-planner transcribe`` are thin wrappers.
"""

from robot_planner.speech.recognizer import (
    MAX_AUDIO_S,
    SAMPLE_RATE,
    NotUnderstood,
    SpeechError,
    SpeechRecognizer,
    Transcript,
    check_pcm,
    read_wav,
    resample,
)
from robot_planner.speech.segmenter import UtteranceSegmenter

__all__ = [
    "MAX_AUDIO_S",
    "SAMPLE_RATE",
    "NotUnderstood",
    "SpeechError",
    "SpeechRecognizer",
    "Transcript",
    "UtteranceSegmenter",
    "check_pcm",
    "read_wav",
    "resample",
]
