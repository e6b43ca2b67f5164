//! Views of the device list, totals, IMEI look-up and health.
