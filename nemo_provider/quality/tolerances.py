"""The quality gate's tolerances: the one place they are defined (docs/quality.md quotes them).

Each is what a listener or a platform would notice, not what the engine can hit: a track that passes
is the length, tempo, key and loudness that was asked for, within these bounds.
"""

from __future__ import annotations

#: Duration: the larger of this and one frame (a video frame, or the audio codec's frame: 1152
#: samples for MP3, 1024 for AAC), since a file cannot end between two frames.
DURATION_TOLERANCE_S = 0.010

#: Containers that cannot say how many samples to trim (raw ADTS AAC, MP3 in AVI): a decoder plays the
#: encoder's priming frame and the padding of the last one, so their audio length (and with it the A/V
#: length difference) is allowed two codec frames more.
UNTRIMMED_CONTAINERS = frozenset({"aac", "avi"})

#: Integrated loudness (ITU-R BS.1770 / EBU R 128), in LU either side of the target.
LOUDNESS_TOLERANCE_LU = 1.0

#: True-peak ceiling when none is asked: the usual streaming-platform ceiling for lossy delivery.
DEFAULT_TRUE_PEAK_CEILING_DBTP = -1.0

#: Tempo, relative. Half and double tempo are accepted (a listener taps either) and reported.
TEMPO_TOLERANCE = 0.02

#: Audio and video streams may differ in length by at most this (lip-sync perceptibility, EBU R37).
AV_SYNC_TOLERANCE_S = 0.040

#: Level below which a 10 ms window counts as silent.
SILENCE_THRESHOLD_DBFS = -60.0

#: Silence allowed at the start beyond a fade-in, and at the end beyond a fade-out and its tail.
MAX_LEADING_SILENCE_S = 0.10
MAX_TRAILING_SILENCE_S = 0.50

#: A silent stretch inside the track at least this long is a dropout.
DROPOUT_MIN_S = 0.10

#: A sample at or above this magnitude is at full scale; three in a row are a clipped run.
CLIP_LEVEL = 0.9999
CLIP_RUN = 3

#: The loop seam is inaudible when its level and spectral jumps are at most this times the largest
#: frame-to-frame change the track makes itself, and its sample step is no larger than the track's
#: 99.9th-percentile step (no click).
SEAM_MAX_RATIO = 1.1

#: Below this confidence (0..1) a tempo or key estimate is reported but not held against the track.
MIN_TEMPO_CONFIDENCE = 0.15
MIN_KEY_CONFIDENCE = 0.05

#: A loop has no fades: at most this much silence at either end.
MAX_LOOP_EDGE_SILENCE_S = 0.02
