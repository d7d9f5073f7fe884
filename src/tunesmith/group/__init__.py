"""Run groups: several fine-tuned members of one recipe sharing curated data (a driver)."""
