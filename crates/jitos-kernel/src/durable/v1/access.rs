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

impl Frozen for AccessRefused {
    type Live = Live;

    fn freeze(live: &Live) -> AccessRefused {
        AccessRefused {
            uid: live.uid,
            user: live.user.clone(),
            needed: match live.needed {
                jitos_gov::Role::Admin => Role::Admin,
                jitos_gov::Role::Operator => Role::Operator,
                jitos_gov::Role::Approver => Role::Approver,
                jitos_gov::Role::Viewer => Role::Viewer,
            },
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
            needed: match self.needed {
                Role::Admin => jitos_gov::Role::Admin,
                Role::Operator => jitos_gov::Role::Operator,
                Role::Approver => jitos_gov::Role::Approver,
                Role::Viewer => jitos_gov::Role::Viewer,
            },
            message: self.message,
            count: self.count,
        })
    }
}
