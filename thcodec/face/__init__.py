"""Faces: dlib's HOG detector and the square face region; dlib's 68 landmarks grouped into key points."""
