// The workloads of tests/bench/bench_multi.c on Tokio's multi-thread runtime with two
// worker threads (where Tokio's scheduler puts the two tasks is its own business):
//   x1  tokio::sync::mpsc::channel(1024) of u64, a producer task and a consumer task:
//       ns per item
//   x2  ping-pong over two channel(1) of u64 between two tasks: ns per round trip
// and the same as thread-per-core, as async.h's group runs them: two current_thread
// runtimes on two threads pinned to cores 0 and 1, one task on each:
//   x1-across, x2-across
// Usage: bench_peer_tokio [X1_ITEMS [X2_ROUND_TRIPS]]; prints "NAME NS" lines, each
// the median of RUNS runs.
use std::future::Future;
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::runtime::{Builder, Runtime};
use tokio::sync::mpsc;

const RUNS: usize = 5;

fn x1(rt: &Runtime, n: u64) -> f64 {
    let t0 = Instant::now();
    let sum = rt.block_on(async move {
        let (tx, mut rx) = mpsc::channel::<u64>(1024);
        let consumer = tokio::spawn(async move {
            let mut s = 0u64;
            while let Some(v) = rx.recv().await {
                s = s.wrapping_add(v);
            }
            s
        });
        let producer = tokio::spawn(async move {
            for i in 0..n {
                tx.send(i).await.expect("send");
            }
        });
        producer.await.expect("producer");
        consumer.await.expect("consumer")
    });
    let dt = t0.elapsed().as_nanos() as f64;
    assert_eq!(sum, n * (n - 1) / 2, "x1: wrong sum");
    dt / n as f64
}

fn x2(rt: &Runtime, n: u64) -> f64 {
    let t0 = Instant::now();
    rt.block_on(async move {
        let (atx, mut arx) = mpsc::channel::<u64>(1);
        let (btx, mut brx) = mpsc::channel::<u64>(1);
        let pong = tokio::spawn(async move {
            for _ in 0..n {
                let v = arx.recv().await.expect("pong recv");
                btx.send(v).await.expect("pong send");
            }
        });
        let ping = tokio::spawn(async move {
            for i in 0..n {
                atx.send(i).await.expect("ping send");
                let v = brx.recv().await.expect("ping recv");
                assert_eq!(v, i, "x2: wrong item");
            }
        });
        ping.await.expect("ping");
        pong.await.expect("pong");
    });
    t0.elapsed().as_nanos() as f64 / n as f64
}

// A thread pinned to `cpu` running `fut` on a runtime of its own (current_thread).
fn on_core<F>(cpu: usize, fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: a zeroed cpu_set_t is a valid empty set; the call only reads it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu % ncpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
        let rt = Builder::new_current_thread().build().expect("runtime");
        rt.block_on(fut)
    })
}

fn x1_across(_rt: &Runtime, n: u64) -> f64 {
    let t0 = Instant::now();
    let (tx, mut rx) = mpsc::channel::<u64>(1024);
    let producer = on_core(0, async move {
        for i in 0..n {
            tx.send(i).await.expect("send");
        }
    });
    let consumer = on_core(1, async move {
        let mut s = 0u64;
        while let Some(v) = rx.recv().await {
            s = s.wrapping_add(v);
        }
        s
    });
    producer.join().expect("producer");
    let sum = consumer.join().expect("consumer");
    let dt = t0.elapsed().as_nanos() as f64;
    assert_eq!(sum, n * (n - 1) / 2, "x1-across: wrong sum");
    dt / n as f64
}

fn x2_across(_rt: &Runtime, n: u64) -> f64 {
    let t0 = Instant::now();
    let (atx, mut arx) = mpsc::channel::<u64>(1);
    let (btx, mut brx) = mpsc::channel::<u64>(1);
    let ping = on_core(0, async move {
        for i in 0..n {
            atx.send(i).await.expect("ping send");
            let v = brx.recv().await.expect("ping recv");
            assert_eq!(v, i, "x2-across: wrong item");
        }
    });
    let pong = on_core(1, async move {
        for _ in 0..n {
            let v = arx.recv().await.expect("pong recv");
            btx.send(v).await.expect("pong send");
        }
    });
    ping.join().expect("ping");
    pong.join().expect("pong");
    t0.elapsed().as_nanos() as f64 / n as f64
}

fn median(rt: &Runtime, f: fn(&Runtime, u64) -> f64, n: u64) -> f64 {
    let mut t: Vec<f64> = (0..RUNS).map(|_| f(rt, n)).collect();
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t[RUNS / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n1: u64 = args.get(1).map_or(10_000_000, |s| s.parse().expect("X1_ITEMS"));
    let n2: u64 = args.get(2).map_or(200_000, |s| s.parse().expect("X2_ROUND_TRIPS"));
    let rt = Builder::new_multi_thread().worker_threads(2).build().expect("runtime");
    println!("x1 {:.2}", median(&rt, x1, n1));
    println!("x2 {:.2}", median(&rt, x2, n2));
    println!("x1-across {:.2}", median(&rt, x1_across, n1));
    // (a tenth as many round trips: each wakes a parked thread, some 20-50 us here)
    println!("x2-across {:.2}", median(&rt, x2_across, (n2 / 10).max(1)));
}
