//! `demo/Ledger@1`, the keyed reducer of `worlds/cells`: one cell per account (key
//! `demo/AccountId@1`, routed by `$value.account`), holding its balance.
//!
//! A missing cell starts at zeros. `Deposit` adds the amount to the balance and counts one
//! deposit; `Withdraw` subtracts it and counts one withdrawal, and fails the step with
//! `insufficient funds: …` when the amount exceeds the balance (the cell stays as it was).
//! `deposits` and `withdrawals` are the numbers of operations, not sums.

use serde::{Deserialize, Serialize};
use worldline_sdk::{Output, ReduceError, Reducer, Step};

/// `demo/Deposit@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    /// The account (`demo/AccountId@1`), also the cell key.
    pub account: String,
    /// How much to add.
    pub amount: u64,
}

/// `demo/Withdraw@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdraw {
    /// The account (`demo/AccountId@1`), also the cell key.
    pub account: String,
    /// How much to take out.
    pub amount: u64,
}

/// `demo/LedgerEvent@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum LedgerEvent {
    /// Add to an account.
    Deposit(Deposit),
    /// Take from an account.
    Withdraw(Withdraw),
}

impl LedgerEvent {
    /// The account the event is about.
    pub fn account(&self) -> &str {
        match self {
            LedgerEvent::Deposit(d) => &d.account,
            LedgerEvent::Withdraw(w) => &w.account,
        }
    }
}

/// `demo/Account@1`: one cell.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The current balance.
    pub balance: u64,
    /// How many deposits were made.
    pub deposits: u64,
    /// How many withdrawals were made.
    pub withdrawals: u64,
}

/// The reducer.
pub struct Ledger;

impl Reducer for Ledger {
    type State = Account;
    type Event = LedgerEvent;

    fn reduce(
        state: Option<Account>,
        event: LedgerEvent,
        step: &Step,
    ) -> Result<Output<Account>, ReduceError> {
        if let Some(key) = step.decode_key::<String>()?
            && key != event.account()
        {
            return Err(ReduceError::new(format!(
                "event for account \"{}\" delivered to cell \"{key}\"",
                event.account()
            )));
        }
        let mut acct = state.unwrap_or_default();
        match event {
            LedgerEvent::Deposit(Deposit { account, amount }) => {
                acct.balance = acct.balance.checked_add(amount).ok_or_else(|| {
                    format!(
                        "balance overflow: account \"{account}\" holds {}",
                        acct.balance
                    )
                })?;
                acct.deposits = acct.deposits.saturating_add(1);
            }
            LedgerEvent::Withdraw(Withdraw { account, amount }) => {
                if amount > acct.balance {
                    return Err(ReduceError::new(format!(
                        "insufficient funds: account \"{account}\" holds {}, cannot withdraw {amount}",
                        acct.balance
                    )));
                }
                acct.balance -= amount;
                acct.withdrawals = acct.withdrawals.saturating_add(1);
            }
        }
        Ok(Output::new(acct))
    }
}

worldline_sdk::reducer!(Ledger);

#[cfg(test)]
mod tests;
