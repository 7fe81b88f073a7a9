//! Facts of a library call seen by a uprobe (`Body::UserCall`): bash readline and PAM.

use vigil_event::model::UserCall;

/// Linux-PAM's result codes (security/_pam_types.h) by name, for `evt.arg.result`.
fn pam_result_name(code: i32) -> String {
    const NAMES: &[&str] = &[
        "PAM_SUCCESS",
        "PAM_OPEN_ERR",
        "PAM_SYMBOL_ERR",
        "PAM_SERVICE_ERR",
        "PAM_SYSTEM_ERR",
        "PAM_BUF_ERR",
        "PAM_PERM_DENIED",
        "PAM_AUTH_ERR",
        "PAM_CRED_INSUFFICIENT",
        "PAM_AUTHINFO_UNAVAIL",
        "PAM_USER_UNKNOWN",
        "PAM_MAXTRIES",
        "PAM_NEW_AUTHTOK_REQD",
        "PAM_ACCT_EXPIRED",
        "PAM_SESSION_ERR",
        "PAM_CRED_UNAVAIL",
        "PAM_CRED_EXPIRED",
        "PAM_CRED_ERR",
        "PAM_NO_MODULE_DATA",
        "PAM_CONV_ERR",
        "PAM_AUTHTOK_ERR",
        "PAM_AUTHTOK_RECOVERY_ERR",
        "PAM_AUTHTOK_LOCK_BUSY",
        "PAM_AUTHTOK_DISABLE_AGING",
        "PAM_TRY_AGAIN",
        "PAM_IGNORE",
        "PAM_ABORT",
        "PAM_AUTHTOK_EXPIRED",
        "PAM_MODULE_UNKNOWN",
        "PAM_BAD_ITEM",
        "PAM_CONV_AGAIN",
        "PAM_INCOMPLETE",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("PAM_{code}"), |n| (*n).to_string())
}

/// The call's arguments by name: `line` (readline); `user`, `service`, `result` (PAM).
pub fn user_call_args(u: &UserCall) -> Vec<(&'static str, String)> {
    if u.is_pam() {
        vec![
            ("user", u.str1.to_string()),
            ("service", u.str2.to_string()),
            ("result", pam_result_name(u.ret)),
        ]
    } else {
        vec![("line", u.str1.to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pam_codes_have_their_names() {
        assert_eq!(pam_result_name(0), "PAM_SUCCESS");
        assert_eq!(pam_result_name(7), "PAM_AUTH_ERR");
        assert_eq!(pam_result_name(10), "PAM_USER_UNKNOWN");
        assert_eq!(pam_result_name(99), "PAM_99");
        assert_eq!(pam_result_name(-1), "PAM_-1");
    }
}
