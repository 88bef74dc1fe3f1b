//! The request a worker thread is working on now, so that every log line written on its behalf
//! carries its id. The middleware sets it around each poll of a request's future; the logger reads
//! it.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

thread_local! {
    static CURRENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f` with the id of the request being served on this thread, if any.
pub fn with_request_id<R>(f: impl FnOnce(Option<&str>) -> R) -> R {
    CURRENT.with_borrow(|id| f(id.as_deref()))
}

/// The id of the request being served on this thread, if any (for work it hands on, such as a
/// background job, whose log lines belong to the request too).
pub fn current_request_id() -> Option<String> {
    CURRENT.with_borrow(Clone::clone)
}

/// A future that is polled with `id` as the current request id.
pub struct InRequest<F> {
    id: Option<String>,
    future: F,
}

impl<F> InRequest<F> {
    /// `future`, polled as part of the request `id`.
    pub fn new(id: String, future: F) -> Self {
        InRequest {
            id: Some(id),
            future,
        }
    }
}

impl<F: Future + Unpin> Future for InRequest<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        // Swapped in and out, not cloned: a poll costs no allocation. The guard swaps back even
        // when the poll panics, so no later line on this thread carries a stale id.
        let outer = CURRENT.with_borrow_mut(|current| std::mem::replace(current, this.id.take()));
        let guard = Restore {
            outer: Some(outer),
            id: &mut this.id,
        };
        let poll = Pin::new(&mut this.future).poll(cx);
        drop(guard);
        poll
    }
}

/// Puts the outer request's id back as current, and this one's back in its future, when dropped.
struct Restore<'a> {
    outer: Option<Option<String>>,
    id: &'a mut Option<String>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        let outer = self.outer.take().flatten();
        *self.id = CURRENT.with_borrow_mut(|current| std::mem::replace(current, outer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn the_id_is_current_only_while_its_future_runs() {
        assert_eq!(with_request_id(|id| id.map(str::to_owned)), None);
        let seen = InRequest::new(
            "abc".into(),
            Box::pin(async {
                let first = with_request_id(|id| id.map(str::to_owned));
                actix_rt::task::yield_now().await;
                let second = with_request_id(|id| id.map(str::to_owned));
                (first, second)
            }),
        )
        .await;
        assert_eq!(seen, (Some("abc".into()), Some("abc".into())));
        assert_eq!(with_request_id(|id| id.map(str::to_owned)), None);
    }

    #[actix_rt::test]
    async fn nested_requests_restore_the_outer_id() {
        let seen = InRequest::new(
            "outer".into(),
            Box::pin(async {
                let inner =
                    InRequest::new("inner".into(), Box::pin(async { current_request_id() })).await;
                (inner, current_request_id())
            }),
        )
        .await;
        assert_eq!(seen, (Some("inner".into()), Some("outer".into())));
    }

    #[test]
    fn a_panicking_poll_leaves_no_stale_id() {
        let caught = std::panic::catch_unwind(|| {
            let mut future = InRequest::new(
                "doomed".into(),
                Box::pin(async { panic!("deliberate") }) as Pin<Box<dyn Future<Output = ()>>>,
            );
            let waker = futures_util::task::noop_waker();
            let _ = Pin::new(&mut future).poll(&mut Context::from_waker(&waker));
        });
        assert!(caught.is_err());
        assert_eq!(current_request_id(), None);
    }
}
