//! The UDP reflector for the agents' voice probe. (Placeholder: the probe issue builds it.)
