"""What spans the areas: the jobs, the schedules, the landing and retry sensors, the shared resources."""
