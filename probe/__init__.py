"""Active network measurement on the homeworker's machine (issue 5)."""
