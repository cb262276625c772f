//! Issue 16, the regional council's view: the meetings registry (`meetings`).

mod meetings;
