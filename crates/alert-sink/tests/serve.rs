//! The sink served for real: bound to port 0, stopped by its shutdown future.

use std::time::Duration;

use tokio::net::TcpListener;

#[tokio::test]
async fn it_serves_on_a_real_socket_and_shuts_down_gracefully() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = alert_sink::SinkState::new(
        10,
        std::env::temp_dir(),
        alert_sink::Links::new("http://grafana.test").expect("http"),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(alert_sink::run(listener, state, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let health = http.get(format!("http://{addr}/healthz")).send().await.expect("answers");
    assert_eq!(health.text().await.expect("body"), "ok");

    stop.send(()).expect("server still running");
    let ended = tokio::time::timeout(alert_sink::GRACE_PERIOD * 2, server).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "run returns Ok once shut down: {ended:?}");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no longer accepting");
}

#[test]
fn links_must_be_http() {
    assert_eq!(
        alert_sink::Links::new("https://grafana.example/").expect("https").grafana,
        "https://grafana.example"
    );
    for bad in ["javascript:alert(1)", "grafana:3000", "", "http://", "http://a b"] {
        assert!(alert_sink::Links::new(bad).is_err(), "{bad}");
    }
}
