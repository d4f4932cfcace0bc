"""Preprocessing shared by the apps: text, audio, image and video."""
