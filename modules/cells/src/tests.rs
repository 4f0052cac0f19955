//! The ledger through its `step` entry point: canonical keyed input envelopes (spec/abi.md)
//! in, decoded cells out.

use worldline_sdk::envelope::{EventEntry, StepInput, StepOutput};
use worldline_sdk::{from_cbor, to_cbor};

use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The input envelope for `event` on the cell `key` (its canonical CBOR is a text).
fn envelope(key: &str, state: Option<&Account>, event: Vec<u8>) -> Vec<u8> {
    StepInput {
        ctx: None,
        event: EventEntry {
            schema: "demo/LedgerEvent@1".into(),
            value: event,
            key: Some(to_cbor(key).unwrap()),
        },
        state: state.map(|s| to_cbor(s).unwrap()),
    }
    .encode()
}

fn deposit(account: &str, amount: u64) -> Vec<u8> {
    to_cbor(&LedgerEvent::Deposit(Deposit {
        account: account.into(),
        amount,
    }))
    .unwrap()
}

fn withdraw(account: &str, amount: u64) -> Vec<u8> {
    to_cbor(&LedgerEvent::Withdraw(Withdraw {
        account: account.into(),
        amount,
    }))
    .unwrap()
}

fn run(key: &str, state: Option<&Account>, event: Vec<u8>) -> Result<Account, String> {
    let out = step(&envelope(key, state, event)).map_err(|e| e.message().to_owned())?;
    let out = StepOutput::decode(&out).unwrap();
    Ok(from_cbor(out.state.as_deref().expect("cells are never deleted")).unwrap())
}

#[test]
fn the_event_and_cell_encodings_are_canonical() {
    // {"$tag": "Deposit", "$value": {"amount": 5, "account": "alice"}}: within the record,
    // "amount" (6 bytes) sorts before "account" (7 bytes).
    assert_eq!(
        deposit("alice", 5),
        hex("a2 64 24746167 67 4465706f736974 66 2476616c7565 \
             a2 66 616d6f756e74 05 67 6163636f756e74 65 616c696365")
    );
    let acct = Account {
        balance: 1,
        deposits: 2,
        withdrawals: 3,
    };
    assert_eq!(
        to_cbor(&acct).unwrap(),
        hex("a3 67 62616c616e6365 01 68 6465706f73697473 02 6b 7769746864726177616c73 03")
    );
}

#[test]
fn a_missing_cell_starts_at_zero() {
    let acct = run("alice", None, deposit("alice", 10)).unwrap();
    assert_eq!(
        acct,
        Account {
            balance: 10,
            deposits: 1,
            withdrawals: 0
        }
    );
}

#[test]
fn deposits_add_and_withdrawals_subtract() {
    let a = run("alice", None, deposit("alice", 10)).unwrap();
    let a = run("alice", Some(&a), deposit("alice", 5)).unwrap();
    let a = run("alice", Some(&a), withdraw("alice", 12)).unwrap();
    assert_eq!(
        a,
        Account {
            balance: 3,
            deposits: 2,
            withdrawals: 1
        }
    );
    // Withdrawing everything is allowed.
    let a = run("alice", Some(&a), withdraw("alice", 3)).unwrap();
    assert_eq!(
        a,
        Account {
            balance: 0,
            deposits: 2,
            withdrawals: 2
        }
    );
}

#[test]
fn overdrawing_fails_the_step() {
    let a = Account {
        balance: 4,
        deposits: 1,
        withdrawals: 0,
    };
    let err = run("bob", Some(&a), withdraw("bob", 5)).unwrap_err();
    assert_eq!(
        err,
        "insufficient funds: account \"bob\" holds 4, cannot withdraw 5"
    );
    // A new cell holds nothing.
    let err = run("carol", None, withdraw("carol", 1)).unwrap_err();
    assert!(err.starts_with("insufficient funds: "), "{err}");
}

#[test]
fn a_balance_overflow_fails_the_step() {
    let a = Account {
        balance: u64::MAX,
        deposits: 1,
        withdrawals: 0,
    };
    let err = run("dave", Some(&a), deposit("dave", 1)).unwrap_err();
    assert!(err.starts_with("balance overflow: "), "{err}");
}

#[test]
fn an_event_for_another_cell_is_refused() {
    let err = run("alice", None, deposit("bob", 1)).unwrap_err();
    assert_eq!(err, "event for account \"bob\" delivered to cell \"alice\"");
}

#[test]
fn malformed_events_fail_with_a_message() {
    // A negative amount.
    let bad = hex("a2 64 24746167 67 4465706f736974 66 2476616c7565 \
                   a2 66 616d6f756e74 20 67 6163636f756e74 65 616c696365");
    let err = run("alice", None, bad).unwrap_err();
    assert_eq!(
        err,
        "event demo/LedgerEvent@1 does not decode: expected a nat at byte 29"
    );
    // A record without its account.
    let bad = hex("a2 64 24746167 68 5769746864726177 66 2476616c7565 a1 66 616d6f756e74 01");
    let err = run("alice", None, bad).unwrap_err();
    assert_eq!(
        err,
        "event demo/LedgerEvent@1 does not decode: missing field `account`"
    );
    // A cell key that is not a text.
    let mut input = StepInput::decode(&envelope("alice", None, deposit("alice", 1))).unwrap();
    input.event.key = Some(hex("01"));
    let err = step(&input.encode()).unwrap_err();
    assert_eq!(err.message(), "cell key: expected text at byte 0");
}
