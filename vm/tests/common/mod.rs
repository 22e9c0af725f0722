//! What every VM test shares: the gate and the skip.

#![allow(dead_code)]

use spo_vm::{Boot, Outcome, Scenario, VmError};

/// The prepared boot, or `None` after a loud skip: the tier is off
/// (`SPO_VM=1` turns it on), or qemu, the kernel package or our binaries
/// are missing.
pub fn boot() -> Option<Boot> {
    if !spo_vm::enabled() {
        spo_test_support::skip("the VM tier runs with SPO_VM=1 (scripts/vm-test.sh; about two minutes)");
        return None;
    }
    match Boot::prepare() {
        Ok(b) => Some(b),
        Err(e) if e.is_missing() => {
            spo_test_support::skip(format!("{e}"));
            None
        }
        Err(e) => panic!("cannot prepare the VM: {e}"),
    }
}

/// Run `scenario`, printing the timings; a failure to boot fails the test.
pub fn run(boot: &Boot, scenario: &Scenario) -> Outcome {
    match boot.run(scenario) {
        Ok(o) => {
            eprintln!(
                "vm: {} booted in {:.2} s (guest uptime at /init {:.2} s), finished in {:.1} s",
                boot.kernel.key,
                o.boot.as_secs_f64(),
                o.guest_uptime_at_init,
                o.total.as_secs_f64()
            );
            o
        }
        Err(VmError::Missing { what, fix }) => panic!("{what} went missing: {fix}"),
        Err(e) => panic!("{e}"),
    }
}
