//! Consent: the patient's consent to the care team's sharing.
