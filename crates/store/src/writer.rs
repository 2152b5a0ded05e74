//! Writing page files on a background thread, so scoring goes on while the disk works.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use taxonomist_model::PageId;

use crate::{PageScores, Store, StoreError, fsutil};

/// One batch's outcome, in submission order.
#[derive(Debug)]
pub struct Written {
    /// The batch's pages, in the order given.
    pub pages: Vec<PageId>,
    /// Per page, whether its file was written (unchanged bytes are not), or the batch's
    /// first error.
    pub result: Result<Vec<bool>, StoreError>,
}

type Batch = (Vec<PageId>, Vec<(PathBuf, Vec<u8>)>);

/// Writes batches of page files with [`fsutil::write_atomic_many`] on a background thread.
/// Pages are serialised by the caller's thread at [`PageWriter::submit`]; at most one batch
/// waits while another is written, which bounds the memory held. Outcomes come back in
/// submission order from `submit` (those finished so far) and [`PageWriter::finish`] (the
/// rest). Without a thread (it could not be started) batches are written in place.
pub struct PageWriter {
    tx: Option<SyncSender<Batch>>,
    rx: Option<Receiver<Written>>,
    handle: Option<JoinHandle<()>>,
    inline: Vec<Written>,
}

fn write(batch: Batch) -> Written {
    let (pages, items) = batch;
    let result =
        fsutil::write_atomic_many(&items).map_err(|(path, source)| StoreError::Io { path, source });
    Written { pages, result }
}

impl PageWriter {
    /// Starts the writer thread.
    pub fn new() -> PageWriter {
        let (tx, batches) = sync_channel::<Batch>(1);
        let (done, rx) = std::sync::mpsc::channel::<Written>();
        let spawned = std::thread::Builder::new()
            .name("taxonomist-store-writer".into())
            .spawn(move || {
                for batch in batches {
                    if done.send(write(batch)).is_err() {
                        break;
                    }
                }
            });
        match spawned {
            Ok(handle) => PageWriter {
                tx: Some(tx),
                rx: Some(rx),
                handle: Some(handle),
                inline: Vec::new(),
            },
            Err(_) => PageWriter {
                tx: None,
                rx: None,
                handle: None,
                inline: Vec::new(),
            },
        }
    }

    /// Serialises `pages` and queues them (waiting while another batch is queued). Returns
    /// the outcomes of batches finished so far.
    pub fn submit(&mut self, store: &Store, pages: &[&PageScores]) -> Vec<Written> {
        if !pages.is_empty() {
            let batch: Batch = (
                pages.iter().map(|p| p.page.clone()).collect(),
                store.page_files(pages),
            );
            match &self.tx {
                Some(tx) => {
                    if let Err(std::sync::mpsc::SendError(batch)) = tx.send(batch) {
                        // The thread is gone (it cannot panic short of a bug): write here.
                        self.inline.push(write(batch));
                    }
                }
                None => self.inline.push(write(batch)),
            }
        }
        let mut out = std::mem::take(&mut self.inline);
        if let Some(rx) = &self.rx {
            out.extend(rx.try_iter());
        }
        out
    }

    /// Waits for every queued batch; returns the outcomes not yet returned.
    pub fn finish(&mut self) -> Vec<Written> {
        self.tx = None;
        let mut out = std::mem::take(&mut self.inline);
        if let Some(rx) = self.rx.take() {
            out.extend(rx.iter());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        out
    }
}

impl Default for PageWriter {
    fn default() -> PageWriter {
        PageWriter::new()
    }
}

impl Drop for PageWriter {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(id: &str) -> PageScores {
        PageScores {
            page: PageId(id.into()),
            path: format!("content/{id}.md"),
            scores: Default::default(),
        }
    }

    #[test]
    fn batches_are_written_in_order_and_unchanged_files_are_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path());
        let pages: Vec<PageScores> = (0..5).map(|i| page(&format!("p{i}"))).collect();
        let mut w = PageWriter::new();
        let mut done = w.submit(&store, &[&pages[0], &pages[1]]);
        done.extend(w.submit(&store, &[&pages[2]]));
        done.extend(w.submit(&store, &[&pages[3], &pages[4]]));
        done.extend(w.finish());
        let ids: Vec<&str> = done
            .iter()
            .flat_map(|d| d.pages.iter().map(|p| p.as_str()))
            .collect();
        assert_eq!(ids, ["p0", "p1", "p2", "p3", "p4"]);
        for d in &done {
            assert!(d.result.as_ref().expect("written").iter().all(|x| *x));
        }
        for p in &pages {
            let text = std::fs::read_to_string(store.page_path(&p.page)).expect("file");
            assert_eq!(text, p.to_text());
        }
        // The same bytes again: nothing is rewritten.
        let mut w = PageWriter::new();
        let mut again = w.submit(&store, &[&pages[0], &pages[1]]);
        again.extend(w.finish());
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].result.as_ref().expect("ok"), &vec![false, false]);
    }

    #[test]
    fn a_failed_batch_names_its_file_and_later_batches_still_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path());
        // A file where the page's directory should be: the write cannot create it.
        std::fs::create_dir_all(store.scores_dir()).expect("dir");
        std::fs::write(store.scores_dir().join("blocked"), "not a dir").expect("file");
        let bad = page("blocked/p");
        let good = page("fine");
        let mut w = PageWriter::new();
        let mut done = w.submit(&store, &[&bad]);
        done.extend(w.submit(&store, &[&good]));
        done.extend(w.finish());
        assert_eq!(done.len(), 2);
        match &done[0].result {
            Err(StoreError::Io { path, .. }) => {
                assert!(path.ends_with("blocked/p.json"), "{}", path.display())
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
        assert!(done[1].result.is_ok());
        assert!(store.page_path(&good.page).exists());
    }
}
