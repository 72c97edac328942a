//! Version 1 of `access.refused`.

use serde::{Deserialize, Serialize};

use crate::access_record::{
    AccessRefused as Live, REFUSAL_MESSAGE_BYTES_MAX, REFUSAL_USER_BYTES_MAX as USER_BYTES_MAX,
};
use crate::durable::{Frozen, PayloadError};

/// The payload of `access.refused`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccessRefused {
    uid: u32,
    user: String,
    needed: Role,
    message: String,
    count: u64,
}

/// `jitos_gov::Role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Role {
    Admin,
    Operator,
    Approver,
    Viewer,
}

impl Role {
    /// The durable form of `live`.
    pub(crate) fn freeze(live: jitos_gov::Role) -> Role {
        match live {
            jitos_gov::Role::Admin => Role::Admin,
            jitos_gov::Role::Operator => Role::Operator,
            jitos_gov::Role::Approver => Role::Approver,
            jitos_gov::Role::Viewer => Role::Viewer,
        }
    }

    /// The durable form of a list of roles.
    pub(crate) fn freeze_all(live: &[jitos_gov::Role]) -> Vec<Role> {
        live.iter().map(|&role| Role::freeze(role)).collect()
    }

    /// The roles a list stands for; more than there are is refused as `what`.
    pub(crate) fn thaw_all(
        roles: Vec<Role>,
        what: &'static str,
    ) -> Result<Vec<jitos_gov::Role>, PayloadError> {
        if roles.len() > jitos_gov::Role::ALL.len() {
            return Err(PayloadError::invalid(what)(
                "it names more roles than there are".to_owned(),
            ));
        }
        Ok(roles.into_iter().map(Role::thaw).collect())
    }

    /// The role it stands for.
    pub(crate) fn thaw(self) -> jitos_gov::Role {
        match self {
            Role::Admin => jitos_gov::Role::Admin,
            Role::Operator => jitos_gov::Role::Operator,
            Role::Approver => jitos_gov::Role::Approver,
            Role::Viewer => jitos_gov::Role::Viewer,
        }
    }
}

impl Frozen for AccessRefused {
    type Live = Live;

    fn freeze(live: &Live) -> AccessRefused {
        AccessRefused {
            uid: live.uid,
            user: live.user.clone(),
            needed: Role::freeze(live.needed),
            message: live.message.clone(),
            count: live.count,
        }
    }

    fn thaw(self) -> Result<Live, PayloadError> {
        if self.count == 0 {
            return Err(PayloadError::invalid("count")(
                "a record of refusals stands for at least one".to_owned(),
            ));
        }
        if self.user.len() > USER_BYTES_MAX {
            return Err(PayloadError::invalid("user")(format!(
                "it is over {USER_BYTES_MAX} bytes"
            )));
        }
        if self.message.len() > REFUSAL_MESSAGE_BYTES_MAX {
            return Err(PayloadError::invalid("message")(format!(
                "it is over {REFUSAL_MESSAGE_BYTES_MAX} bytes"
            )));
        }
        Ok(Live {
            uid: self.uid,
            user: self.user,
            needed: self.needed.thaw(),
            message: self.message,
            count: self.count,
        })
    }
}
