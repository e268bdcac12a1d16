//! MTA floor for `bench/run.sh`: how fast the bench stack's Postfix accepts
//! auto-reply-sized mails, i.e. the most any SMTP sender can reach there.
//!
//!     cargo run --release --example bench_smtp -- PORT N CONNS TAG [DOMAIN [nagle]]
//!
//! Sends N mails of about 1 KB (the size of postdesk's auto-replies) with a
//! null envelope sender to cust<k>-TAG@DOMAIN (k < 333; DOMAIN defaults to
//! customer.test, which the stack's Postfix delivers into Dovecot like the
//! real auto-replies; a non-.test domain is discarded) over CONNS reused
//! connections on 127.0.0.1:PORT, with lettre's SMTP client over our own
//! TCP socket with TCP_NODELAY. With `nagle` the socket keeps Nagle's
//! algorithm, as lettre's own pooled transport (0.11.23) opens it.
//! Prints `mails=N conns=C secs=S mails_per_s=R`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use lettre::address::Envelope;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args.first().expect("PORT").parse()?;
    let n: usize = args.get(1).expect("N").parse()?;
    let conns: usize = args.get(2).expect("CONNS").parse()?;
    let tag = args.get(3).expect("TAG").clone();
    let domain = args
        .get(4)
        .cloned()
        .unwrap_or_else(|| "customer.test".into());
    let nodelay = args.get(5).map(String::as_str) != Some("nagle");

    let body = "Hello,\r\n\r\nthank you for writing to us. Your request has been received and\r\n\
                registered. An agent will answer as soon as possible.\r\n\r\n"
        .repeat(4);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (next, tag, body, domain) = (next.clone(), tag.clone(), body.clone(), domain.clone());
        tasks.push(tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            tcp.set_nodelay(nodelay)?;
            let hello = ClientId::Domain("bench-smtp.support.test".into());
            let mut c = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let to = format!("cust{}-{tag}@{domain}", i % 333);
                let raw = format!(
                    "From: Support <support@support.test>\r\nTo: {to}\r\n\
                     Subject: [Ticket#2026112210{i:06}] Your request\r\n\
                     Message-ID: <{i}.smtp-floor.{tag}@support.test>\r\n\
                     Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nAuto-Submitted: auto-replied\r\n\
                     MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
                );
                let env = Envelope::new(None, vec![to.parse()?])?;
                c.send(&env, raw.as_bytes()).await?;
            }
            c.quit().await.ok();
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "mails={n} conns={conns} secs={secs:.3} mails_per_s={:.0}",
        n as f64 / secs
    );
    Ok(())
}
