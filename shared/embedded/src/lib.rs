//! rentops-embedded
