//! Every resource type and Bundle the server produces, checked by two independent validators.
