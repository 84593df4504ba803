import numpy as np

from thcodec.bench.expression import blink_recall, expression_scores, eye_aspect_ratio, mouth_aspect_ratio


def face(eye_open: float = 1.0, mouth_open: float = 0.0) -> np.ndarray:
    """68 landmarks with eyes 30 px wide and `eye_open` x 10 px tall, a 40 px wide mouth."""
    lm = np.zeros((68, 2))
    for start, x0 in ((36, 70.0), (42, 156.0)):
        h = 5 * eye_open
        lm[start : start + 6] = [
            (x0, 100),
            (x0 + 10, 100 - h),
            (x0 + 20, 100 - h),
            (x0 + 30, 100),
            (x0 + 20, 100 + h),
            (x0 + 10, 100 + h),
        ]
    lm[60], lm[64] = (108, 180), (148, 180)
    for a, b, x in ((61, 67, 118), (62, 66, 128), (63, 65, 138)):
        lm[a], lm[b] = (x, 180 - 10 * mouth_open), (x, 180 + 10 * mouth_open)
    return lm


def test_aspect_ratios_follow_the_definitions():
    assert np.isclose(eye_aspect_ratio(face(1.0)), (10 + 10) / (2 * 30))
    assert np.isclose(eye_aspect_ratio(face(0.0)), 0.0)
    assert np.isclose(mouth_aspect_ratio(face(mouth_open=1.0)), 20 / 40)


def test_blink_recall_counts_closing_frames_found_in_the_output():
    ref = np.array([0.3] * 20 + [0.1] * 4)
    assert blink_recall(ref, ref.copy()) == (1.0, 4)
    assert blink_recall(ref, np.full(24, 0.3)) == (0.0, 4)
    half = ref.copy()
    half[-2:] = 0.3
    assert blink_recall(ref, half) == (0.5, 4)
    assert blink_recall(np.full(24, 0.3), np.full(24, 0.3))[0] is None  # no blink in the reference


def test_scores_skip_frames_without_a_face():
    ref = np.stack([face(1.0)] * 10 + [face(0.0)] * 3)
    out = np.stack([face(1.0)] * 13)
    out[0] = np.nan
    s = expression_scores(ref, out)
    assert s.frames == 12 and s.closed_frames == 3 and s.blink_recall == 0.0
    assert np.isclose(s.ear_error, 3 * (1 / 3) / 12)
    assert s.mar_error == 0.0
