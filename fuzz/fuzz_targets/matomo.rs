#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mesure_collector::fuzz::matomo(data));
