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
        // Swapped in and out, not cloned: a poll costs no allocation.
        let outer = CURRENT.with_borrow_mut(|current| std::mem::replace(current, this.id.take()));
        let poll = Pin::new(&mut this.future).poll(cx);
        this.id = CURRENT.with_borrow_mut(|current| std::mem::replace(current, outer));
        poll
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
}
