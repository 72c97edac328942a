//! Lists a page at a time: what a client asks for, what comes back, and the limits both
//! sides agree on.

use serde::{Deserialize, Serialize};

/// Items per page when the client names no limit.
pub const PAGE_ITEMS_DEFAULT: u32 = 100;

/// The most items one page may ask for; each page must fit in one frame, and a larger
/// limit is refused rather than cut, so a script never mistakes a short page for the end.
pub const PAGE_ITEMS_MAX: u32 = 10_000;

/// Which page of a list: the items after a cursor, at most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest<C = u64> {
    /// The cursor of the last item of the previous page (its `next`); `None` for the
    /// first page.
    pub after: Option<C>,
    /// The most items to return, from 1 to [`PAGE_ITEMS_MAX`].
    pub limit: u32,
}

impl<C> PageRequest<C> {
    /// The first page, of the default size.
    pub fn first() -> Self {
        Self {
            after: None,
            limit: PAGE_ITEMS_DEFAULT,
        }
    }

    /// The limit as a count, or why it is refused.
    pub fn checked_limit(&self) -> Result<usize, String> {
        if self.limit == 0 || self.limit > PAGE_ITEMS_MAX {
            return Err(format!(
                "--limit {} is out of range: a page holds 1 to {PAGE_ITEMS_MAX} items; \
                 page on with --after",
                self.limit
            ));
        }
        // u32 fits in usize on every target this builds for.
        Ok(self.limit as usize)
    }
}

/// One page of a list, and the cursor of the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageView<T, C = u64> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// What to pass as `after` for the next page; `None` on the last page.
    pub next: Option<C>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // Goal: a limit of 0 or above the maximum is refused with a message naming the range;
    // the bounds themselves are taken. Method: check each edge.
    #[test]
    fn limits_are_checked() {
        let page = |limit| PageRequest::<u64> { after: None, limit };
        assert_eq!(page(1).checked_limit().unwrap(), 1);
        assert_eq!(
            page(PAGE_ITEMS_MAX).checked_limit().unwrap(),
            PAGE_ITEMS_MAX as usize
        );
        for refused in [0, PAGE_ITEMS_MAX + 1] {
            let why = page(refused).checked_limit().unwrap_err();
            assert!(why.contains("1 to 10000"), "{why}");
        }
    }
}
