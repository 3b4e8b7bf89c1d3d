"""Discovery methods and the controls they produce. No Qt."""
