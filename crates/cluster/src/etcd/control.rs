//! [`JobControl`]: the job's state in etcd, and every write to it, fenced.
//!
//! - Workers claim nodes: `node/i/owner` created on the worker's lease in a txn that
//!   requires it absent (and the node not done). Its create_revision is the claim's
//!   epoch; when the lease expires the key goes, and a later claim has a larger epoch.
//! - Every leader write compares the leader key's create_revision (the leader epoch);
//!   a commit also compares the owner key of every node whose outputs it commits, so
//!   the output of a worker whose claim has lapsed is never committed, even if it
//!   reached the leader before the leader noticed.

use std::collections::BTreeMap;

use etcd_client::{Compare, CompareOp, GetOptions, PutOptions, TxnOp, TxnOpResponse};

use super::election::Leadership;
use super::pool::Etcd;
use crate::error::ClusterError;
use crate::keys::JobKeys;

/// A worker's claim on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The node.
    pub node: usize,
    /// The claim's epoch: the owner key's create_revision.
    pub epoch: i64,
}

/// What a claim attempt found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The node is ours.
    Claimed(Claim),
    /// Another worker holds it.
    Taken,
    /// Its queue is committed: nothing to do there.
    Done,
}

/// The nodes as etcd sees them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodesView {
    /// Claimed nodes and their claims' epochs.
    pub owners: BTreeMap<usize, i64>,
    /// Nodes whose queue is committed.
    pub done: Vec<usize>,
    /// The revision of the read (watch from `revision + 1`).
    pub revision: i64,
}

/// What a commit txn did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Applied at this revision.
    Committed(i64),
    /// Refused: this leader is deposed.
    Deposed,
    /// Refused: these nodes' claims are no longer the ones whose outputs were committed.
    Lapsed(Vec<usize>),
}

/// One etcd value and its revisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// The value.
    pub value: Vec<u8>,
    /// The key's mod_revision.
    pub mod_revision: i64,
}

/// The etcd side of one job.
#[derive(Clone, Debug)]
pub struct JobControl {
    etcd: Etcd,
    keys: JobKeys,
}

fn header_revision(h: Option<&etcd_client::ResponseHeader>) -> i64 {
    h.map_or(0, etcd_client::ResponseHeader::revision)
}

impl JobControl {
    /// The control of the job with these keys.
    pub fn new(etcd: Etcd, keys: JobKeys) -> Self {
        JobControl { etcd, keys }
    }

    /// The connection.
    pub fn etcd(&self) -> &Etcd {
        &self.etcd
    }

    /// The job's keys.
    pub fn keys(&self) -> &JobKeys {
        &self.keys
    }

    async fn get(&self, key: String) -> Result<Option<Versioned>, ClusterError> {
        let resp = self
            .etcd
            .call("get", |mut c| {
                let key = key.clone();
                async move { c.get(key, None).await }
            })
            .await?;
        Ok(resp.kvs().first().map(|kv| Versioned {
            value: kv.value().to_vec(),
            mod_revision: kv.mod_revision(),
        }))
    }

    /// The job spec, if a leader published one.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Etcd`] if etcd cannot be asked.
    pub async fn spec(&self) -> Result<Option<Versioned>, ClusterError> {
        self.get(self.keys.spec()).await
    }

    /// The checkpoint pointer, if a snapshot was ever committed.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Etcd`] if etcd cannot be asked.
    pub async fn pointer(&self) -> Result<Option<Versioned>, ClusterError> {
        self.get(self.keys.checkpoint()).await
    }

    /// Whether every output of the job is committed.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Etcd`] if etcd cannot be asked.
    pub async fn is_complete(&self) -> Result<bool, ClusterError> {
        Ok(self.get(self.keys.complete()).await?.is_some())
    }

    /// Every node's claim and done marker.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Etcd`] if etcd cannot be asked.
    pub async fn nodes(&self) -> Result<NodesView, ClusterError> {
        let prefix = self.keys.nodes();
        let resp = self
            .etcd
            .call("get nodes", |mut c| {
                let prefix = prefix.clone();
                async move { c.get(prefix, Some(GetOptions::new().with_prefix())).await }
            })
            .await?;
        let mut view = NodesView {
            revision: header_revision(resp.header()),
            ..NodesView::default()
        };
        for kv in resp.kvs() {
            match self.keys.node_of(kv.key()) {
                Some((node, false)) => {
                    view.owners.insert(node, kv.create_revision());
                }
                Some((node, true)) => view.done.push(node),
                None => {}
            }
        }
        Ok(view)
    }

    /// The epoch of node `node`'s current claim, if it is claimed.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Etcd`] if etcd cannot be asked.
    pub async fn owner(&self, node: usize) -> Result<Option<i64>, ClusterError> {
        let key = self.keys.owner(node);
        let resp = self
            .etcd
            .call("get owner", |mut c| {
                let key = key.clone();
                async move { c.get(key, None).await }
            })
            .await?;
        Ok(resp
            .kvs()
            .first()
            .map(etcd_client::KeyValue::create_revision))
    }

    /// Tries to claim node `node` on `lease` for `worker` (a name for logs).
    ///
    /// Safe to retry: if an earlier attempt whose answer was lost did create the key,
    /// the key is on our lease and is recognised as our claim.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Etcd`] if etcd cannot be asked.
    pub async fn claim(
        &self,
        node: usize,
        lease: i64,
        worker: &str,
    ) -> Result<ClaimOutcome, ClusterError> {
        let owner = self.keys.owner(node);
        let done = self.keys.done(node);
        let resp = self
            .etcd
            .call("claim", |mut c| {
                let txn = etcd_client::Txn::new()
                    .when([
                        Compare::create_revision(owner.clone(), CompareOp::Equal, 0),
                        Compare::create_revision(done.clone(), CompareOp::Equal, 0),
                    ])
                    .and_then([TxnOp::put(
                        owner.clone(),
                        worker,
                        Some(PutOptions::new().with_lease(lease)),
                    )])
                    .or_else([
                        TxnOp::get(owner.clone(), None),
                        TxnOp::get(done.clone(), None),
                    ]);
                async move { c.txn(txn).await }
            })
            .await?;
        if resp.succeeded() {
            return Ok(ClaimOutcome::Claimed(Claim {
                node,
                epoch: header_revision(resp.header()),
            }));
        }
        let mut found_owner = None;
        let mut found_done = false;
        for (k, op) in resp.op_responses().into_iter().enumerate() {
            if let TxnOpResponse::Get(g) = op {
                if let Some(kv) = g.kvs().first() {
                    if k == 0 {
                        found_owner = Some((kv.lease(), kv.create_revision()));
                    } else {
                        found_done = true;
                    }
                }
            }
        }
        Ok(match found_owner {
            Some((l, epoch)) if l == lease => ClaimOutcome::Claimed(Claim { node, epoch }),
            _ if found_done => ClaimOutcome::Done,
            _ => ClaimOutcome::Taken,
        })
    }

    /// Gives a claim up (deletes its owner key if it is still this claim's).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Etcd`] if etcd cannot be asked.
    pub async fn release(&self, claim: Claim) -> Result<bool, ClusterError> {
        let owner = self.keys.owner(claim.node);
        let resp = self
            .etcd
            .call("release", |mut c| {
                let txn = etcd_client::Txn::new()
                    .when([Compare::create_revision(
                        owner.clone(),
                        CompareOp::Equal,
                        claim.epoch,
                    )])
                    .and_then([TxnOp::delete(owner.clone(), None)]);
                async move { c.txn(txn).await }
            })
            .await?;
        Ok(resp.succeeded())
    }

    /// A leader-guarded txn: `then` applies only if `lead` still holds and `extra` all
    /// hold. Returns the txn's revision if it applied.
    async fn guarded(
        &self,
        what: &'static str,
        lead: &Leadership,
        extra: Vec<Compare>,
        then: Vec<TxnOp>,
    ) -> Result<Option<i64>, ClusterError> {
        let resp = self
            .etcd
            .call(what, |mut c| {
                let mut when = vec![lead.guard()];
                when.extend(extra.iter().cloned());
                let txn = etcd_client::Txn::new().when(when).and_then(then.clone());
                async move { c.txn(txn).await }
            })
            .await?;
        Ok(resp.succeeded().then(|| header_revision(resp.header())))
    }

    /// Publishes the job spec if there is none yet; returns the spec now in etcd (ours,
    /// or the one another leader published first) for the caller to compare.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Fenced`] if `lead` no longer holds; [`ClusterError::Etcd`].
    pub async fn publish_spec(
        &self,
        lead: &Leadership,
        spec: &[u8],
    ) -> Result<Vec<u8>, ClusterError> {
        let key = self.keys.spec();
        let put = self
            .guarded(
                "publish spec",
                lead,
                vec![Compare::create_revision(key.clone(), CompareOp::Equal, 0)],
                vec![TxnOp::put(key.clone(), spec.to_vec(), None)],
            )
            .await?;
        if put.is_some() {
            return Ok(spec.to_vec());
        }
        match self.spec().await? {
            Some(v) => Ok(v.value),
            None => Err(ClusterError::Fenced(
                "this coordinator is no longer the leader (its spec write was refused)".into(),
            )),
        }
    }

    /// Marks nodes done without committing anything (nodes with an empty queue).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Fenced`] if `lead` no longer holds; [`ClusterError::Etcd`].
    pub async fn mark_done(&self, lead: &Leadership, nodes: &[usize]) -> Result<(), ClusterError> {
        let ops = nodes
            .iter()
            .map(|&n| TxnOp::put(self.keys.done(n), "", None))
            .collect();
        match self.guarded("mark done", lead, Vec::new(), ops).await? {
            Some(_) => Ok(()),
            None => Err(ClusterError::Fenced(
                "this coordinator is no longer the leader".into(),
            )),
        }
    }

    /// Commits a snapshot: writes `pointer` if `lead` still holds and every `(node,
    /// epoch)` in `owners` is still that node's claim; marks `done` nodes done (and
    /// deletes their owner keys), and the job complete if `complete`.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Etcd`] if etcd cannot be asked.
    pub async fn commit(
        &self,
        lead: &Leadership,
        pointer: &[u8],
        owners: &[(usize, i64)],
        done: &[usize],
        complete: bool,
    ) -> Result<CommitOutcome, ClusterError> {
        let extra = owners
            .iter()
            .map(|&(n, e)| Compare::create_revision(self.keys.owner(n), CompareOp::Equal, e))
            .collect();
        let mut ops = vec![TxnOp::put(self.keys.checkpoint(), pointer.to_vec(), None)];
        for &n in done {
            ops.push(TxnOp::put(self.keys.done(n), "", None));
            ops.push(TxnOp::delete(self.keys.owner(n), None));
        }
        if complete {
            ops.push(TxnOp::put(self.keys.complete(), "", None));
        }
        if let Some(rev) = self.guarded("commit", lead, extra, ops).await? {
            return Ok(CommitOutcome::Committed(rev));
        }
        // Which compare failed? The leader key first: a deposed leader stops.
        if !super::election::still_leader(&self.etcd, lead).await? {
            return Ok(CommitOutcome::Deposed);
        }
        let mut lapsed = Vec::new();
        for &(n, e) in owners {
            if self.owner(n).await? != Some(e) {
                lapsed.push(n);
            }
        }
        Ok(CommitOutcome::Lapsed(lapsed))
    }

    /// Ends a claim from the leader's side (a worker that stalled or never connected):
    /// deletes the owner key if it is still the claim of `epoch`.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Etcd`] if etcd cannot be asked.
    pub async fn revoke_claim(
        &self,
        lead: &Leadership,
        node: usize,
        epoch: i64,
    ) -> Result<bool, ClusterError> {
        let owner = self.keys.owner(node);
        Ok(self
            .guarded(
                "revoke claim",
                lead,
                vec![Compare::create_revision(
                    owner.clone(),
                    CompareOp::Equal,
                    epoch,
                )],
                vec![TxnOp::delete(owner, None)],
            )
            .await?
            .is_some())
    }
}
