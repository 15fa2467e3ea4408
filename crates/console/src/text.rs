//! Every label of the console in Chinese and English, with the OSS console's own words (新建 Bucket,
//! 服务端加密, 无, 基础设置, 设置, 保存, 确定).

/// The language pages are rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 简体中文.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The cookie remembering the choice.
    pub const COOKIE: &'static str = "cang_lang";

    /// From the cookie's value, else the browser's `Accept-Language`, else Chinese.
    pub fn choose(cookie: Option<&str>, accept_language: Option<&str>) -> Self {
        match cookie {
            Some("en") => return Self::En,
            Some("zh") => return Self::Zh,
            _ => {}
        }
        match accept_language {
            Some(v) if v.trim_start().to_ascii_lowercase().starts_with("en") => Self::En,
            _ => Self::Zh,
        }
    }

    /// The `lang` attribute and cookie value.
    pub fn code(self) -> &'static str {
        match self {
            Self::Zh => "zh",
            Self::En => "en",
        }
    }

    /// The other language.
    pub fn other(self) -> Self {
        match self {
            Self::Zh => Self::En,
            Self::En => Self::Zh,
        }
    }
}

macro_rules! labels {
    ($($name:ident => $zh:literal, $en:literal;)*) => {
        /// A label.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum T { $($name,)* }

        /// The label in `lang`.
        pub fn t(lang: Lang, label: T) -> &'static str {
            match (label, lang) {
                $((T::$name, Lang::Zh) => $zh, (T::$name, Lang::En) => $en,)*
            }
        }
    };
}

labels! {
    Title => "Cang 对象存储控制台", "Cang Object Storage Console";
    LanguageName => "中文", "English";
    SignIn => "登录", "Sign in";
    SignOut => "退出登录", "Sign out";
    AccessKeyId => "AccessKey ID", "AccessKey ID";
    AccessKeySecret => "AccessKey Secret", "AccessKey Secret";
    SignInHint => "使用阿里云账号或 RAM 用户的 AccessKey 登录。", "Sign in with the AccessKey pair of an account or a RAM user.";
    WrongKey => "AccessKey ID 或 AccessKey Secret 不正确。", "The AccessKey ID or AccessKey Secret is wrong.";
    SessionEnded => "会话已结束，请重新登录。", "Your session has ended. Please sign in again.";
    SignedInAs => "当前身份", "Signed in as";
    Buckets => "Bucket 列表", "Buckets";
    CreateBucket => "新建 Bucket", "Create Bucket";
    BucketName => "Bucket 名称", "Bucket name";
    BucketNameHint => "3–63 个字符，仅小写字母、数字和短横线（-），以小写字母或数字开头和结尾。", "3–63 characters: lowercase letters, digits and hyphens, starting and ending with a letter or digit.";
    Region => "地域", "Region";
    Created => "创建时间", "Created";
    DefaultEncryption => "服务端加密", "Server-side encryption";
    ServerSideEncryption => "服务端加密", "Server-side encryption";
    None => "无", "None";
    EncryptionAlgorithm => "加密算法", "Encryption algorithm";
    KmsKey => "加密密钥", "Encryption key";
    DefaultManagedKey => "默认托管密钥 alias/acs/oss", "Default managed key alias/acs/oss";
    DataEncryption => "数据加密算法", "Data encryption algorithm";
    LoadingKeys => "正在加载密钥…", "Loading keys…";
    NoKeys => "当前账号没有可用的 KMS 密钥。", "The account has no usable KMS key.";
    Ok => "确定", "OK";
    Cancel => "取消", "Cancel";
    BasicSettings => "基础设置", "Basic Settings";
    Set => "设置", "Set";
    Save => "保存", "Save";
    Saved => "已保存。", "Saved.";
    ExistingObjectsNote => "修改 Bucket 的默认加密方式不会改变 Bucket 中已有文件的加密方式。", "Changing the bucket's default encryption does not add or change encryption on objects already in the bucket.";
    Objects => "文件列表", "Objects";
    ObjectName => "文件名", "Object name";
    Size => "大小", "Size";
    LastModified => "最后修改时间", "Last modified";
    Encryption => "加密方式", "Encryption";
    Actions => "操作", "Actions";
    Download => "下载", "Download";
    Delete => "删除", "Delete";
    DeleteConfirm => "确定删除该文件？", "Delete this object?";
    Upload => "上传文件", "Upload";
    UploadDone => "上传完成", "Upload complete";
    UploadFailed => "上传失败", "Upload failed";
    Folder => "目录", "Folder";
    Parent => "返回上一级", "Up one level";
    NextPage => "下一页", "Next page";
    Empty => "没有文件。", "No objects.";
    NoBuckets => "还没有 Bucket。", "No buckets yet.";
    Unknown => "未知", "Unknown";
    MissingPermission => "缺少权限", "Missing permission";
    Failed => "操作失败", "The operation failed";
    Keys => "密钥管理", "Key Management";
    Back => "返回", "Back";
    Overview => "概览", "Overview";
    CreateKey => "创建密钥", "Create key";
    Description => "描述", "Description";
    KeySpec => "密钥规格", "Key spec";
    KeyState => "密钥状态", "Key state";
    Aliases => "别名", "Aliases";
    Details => "详情", "Details";
    Enable => "启用", "Enable";
    Disable => "禁用", "Disable";
    ScheduleDeletion => "计划删除", "Schedule deletion";
    PendingDays => "预删除周期（7–366 天）", "Waiting period (7–366 days)";
    CancelDeletion => "取消删除", "Cancel deletion";
    DeletionDate => "删除时间", "Deletion date";
    RotateNow => "立即轮转", "Rotate now";
    AutomaticRotation => "自动轮转", "Automatic rotation";
    RotationDays => "轮转周期（天）", "Rotation period (days)";
    Versions => "密钥版本", "Key versions";
    VersionId => "版本 ID", "Version ID";
    PrimaryVersion => "主版本", "Primary version";
    AddAlias => "添加别名", "Add alias";
    AliasName => "别名（alias/…）", "Alias (alias/…)";
    Done => "操作成功。", "Done.";
    LastRotation => "上次轮转", "Last rotation";
    NextRotation => "下次轮转", "Next rotation";
    Ram => "访问控制", "Access control";
    Users => "用户", "Users";
    CreateUser => "创建用户", "Create user";
    UserName => "用户名", "User name";
    AccessKeys => "AccessKey", "AccessKeys";
    CreateAccessKey => "创建 AccessKey", "Create AccessKey";
    SecretOnce => "AccessKey Secret 仅在创建时显示一次，请立即妥善保存。", "The AccessKey Secret is shown only now, once: store it safely.";
    Status => "状态", "Status";
    Policies => "权限策略", "Policies";
    CreatePolicy => "创建权限策略", "Create policy";
    PolicyName => "策略名称", "Policy name";
    PolicyDocument => "策略内容", "Policy document";
    Attach => "添加权限", "Attach";
    Detach => "移除权限", "Detach";
    DeleteUser => "删除用户", "Delete user";
    DeletePolicy => "删除策略", "Delete policy";
    AtLine => "出错位置：第", "At line";
    LineSuffix => "行", "";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_follows_the_cookie_then_the_browser() {
        assert_eq!(Lang::choose(Some("en"), Some("zh-CN")), Lang::En);
        assert_eq!(Lang::choose(Some("zh"), Some("en-US")), Lang::Zh);
        assert_eq!(Lang::choose(None, Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::choose(Some("fr"), None), Lang::Zh);
    }

    #[test]
    fn the_console_speaks_the_oss_console_words() {
        assert_eq!(t(Lang::Zh, T::CreateBucket), "新建 Bucket");
        assert_eq!(t(Lang::Zh, T::ServerSideEncryption), "服务端加密");
        assert_eq!(t(Lang::Zh, T::None), "无");
        assert_eq!(t(Lang::Zh, T::BasicSettings), "基础设置");
        assert_eq!(t(Lang::Zh, T::Set), "设置");
        assert_eq!(t(Lang::Zh, T::Save), "保存");
        assert_eq!(t(Lang::Zh, T::Ok), "确定");
    }
}
