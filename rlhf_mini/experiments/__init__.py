"""Experiments of the course, built from the trainers: each returns the numbers a lesson,
widget, figure or notebook shows, so none of them computes anything itself."""
