//! The governance adapter: executes admitted `governance.*` intents on the world's own thread
//! (they change the world, not the outside), through [`World::execute_governance`], which
//! journals the operation and this adapter's signed receipt in one commit.
//!
//! Its key (`.world/adapters/governance.key`) is created and registered in the journal the
//! first time a governance intent runs, so worlds that never govern from inside carry no
//! extra record.

use worldline_air::Hash;
use worldline_kernel::World;

use crate::clock::ingress_now;
use crate::error::AdapterError;
use crate::host::HostNote;
use crate::keys::AdapterSigner;

/// The adapter id of governance receipts.
pub const GOVERNANCE_ADAPTER: &str = "governance";

/// True for the effect kinds this adapter executes.
pub fn is_governance(kind: &str) -> bool {
    kind.starts_with("governance.")
}

/// Executes one open governance intent; what happened goes to `notes`.
pub fn execute(
    world: &mut World,
    signer: &mut Option<AdapterSigner>,
    intent_hash: &Hash,
    kind: String,
    notes: &mut Vec<HostNote>,
) -> Result<(), AdapterError> {
    let signer = match signer {
        Some(signer) => signer,
        None => {
            let created = AdapterSigner::load_or_create(world.dir(), GOVERNANCE_ADAPTER)?;
            let registered =
                world.register_adapter(GOVERNANCE_ADAPTER, created.public_key(), ingress_now()?)?;
            if let Some(seq) = registered {
                notes.push(HostNote::AdapterRegistered {
                    adapter_id: GOVERNANCE_ADAPTER.to_owned(),
                    seq,
                });
            }
            signer.insert(created)
        }
    };
    let sign = |receipt: &mut worldline_kernel::record::ReceiptBody| signer.sign(receipt);
    let done = world.execute_governance(intent_hash, GOVERNANCE_ADAPTER, &sign, ingress_now()?)?;
    notes.push(HostNote::Governed {
        kind,
        gov_seq: done.gov_seq,
        receipt_seq: done.receipt_seq,
        status: done.status.to_owned(),
        error: done.error,
        caused: done.caused,
    });
    Ok(())
}
