"""Teachers and their secondments between community schools (003 §四(三))."""
