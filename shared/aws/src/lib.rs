//! rentops-aws
