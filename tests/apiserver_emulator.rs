//! Integration tests of the API-server emulator, driven by the real kubectl.

mod apiserver;

#[test]
fn compiles() {
    let emu = apiserver::Emulator::start_blocking();
    assert!(emu.url().starts_with("http://127.0.0.1:"));
}
