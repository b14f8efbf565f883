"""Speech to command text, free of ROS: pocketsphinx constrained by the planner's grammar.

The recogniser can only hear sentences of the offline command language
(`robot_planner.planning.jsgf`), so every transcript is a command the offline planner
understands. The voice node and ``robot-planner transcribe`` are thin wrappers.
"""

from robot_planner.speech.recognizer import (
    MAX_AUDIO_S,
    SAMPLE_RATE,
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
    "SpeechError",
    "SpeechRecognizer",
    "Transcript",
    "UtteranceSegmenter",
    "check_pcm",
    "read_wav",
    "resample",
]
