//! Quasi-random samplers (the samplers issue fills this module in).
