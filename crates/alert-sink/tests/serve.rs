//! The sink served for real: bound to port 0, stopped by its shutdown future.

use std::time::Duration;

use tokio::net::TcpListener;

/// A running sink on a free port: its address, its state, the sender that stops it, and
/// the task whose end is `run`'s return.
async fn serve() -> (
    std::net::SocketAddr,
    alert_sink::SinkState,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = alert_sink::SinkState::new(
        10,
        std::env::temp_dir(),
        alert_sink::Links::new("http://grafana.test").expect("http"),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(alert_sink::run(listener, state.clone(), async move {
        let _ = stopped.await;
    }));
    (addr, state, stop, server)
}

#[tokio::test]
async fn it_serves_on_a_real_socket_and_shuts_down_gracefully() {
    let (addr, _, stop, server) = serve().await;
    let http = stack_client::http_client(Duration::from_secs(10)).expect("client");
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

/// Graceful means `run` waits for a notification in flight when the stop comes, and it is
/// received and answered: Alertmanager would otherwise resend it.
#[tokio::test]
async fn a_notification_in_flight_at_shutdown_is_received_and_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, state, stop, server) = serve().await;
    let body = serde_json::json!({
        "version": "4", "groupKey": "{}:{alertname=\"NodeDown\"}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "pager", "groupLabels": {"alertname": "NodeDown"}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{"status": "firing", "labels": {"alertname": "NodeDown", "node": "3", "severity": "critical"},
                    "annotations": {"summary": "Edge node 3 is down"}, "startsAt": "2026-11-21T10:00:00.000Z",
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph",
                    "fingerprint": "abc"}]
    })
    .to_string();
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.expect("head");
    conn.write_all(&body.as_bytes()[..10]).await.expect("the start of the body");
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).expect("server still running");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Connections are tasks of their own: what matters is that `run` (after which the
    // binary's runtime ends) waits for them.
    assert!(!server.is_finished(), "run returned with a request in flight");
    conn.write_all(&body.as_bytes()[10..]).await.expect("the rest, after the stop");
    let mut reply = String::new();
    conn.read_to_string(&mut reply).await.expect("reply");
    assert!(reply.starts_with("HTTP/1.1 200"), "the request in flight was answered: {reply}");
    let ended = tokio::time::timeout(alert_sink::GRACE_PERIOD * 2, server).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
    assert_eq!(state.store().len(), 1, "and stored");
}
