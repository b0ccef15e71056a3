"""Operations: the landing sensor, the nightly sync, and what they share."""
