"""Follow-up: what reps record once a lead reaches them, from accepting it to won or lost."""
