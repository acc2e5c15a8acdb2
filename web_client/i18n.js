// Bilingual strings (zh / en). Pages call t(key) and mark elements with data-i18n.
const STRINGS = {
  en: {
    lang_toggle: "中文", sign_in: "Sign in", email: "Email", password: "Password", sign_out: "Sign out",
    consent_title: "Before we start", consent_intro: "This is a first-round interview for",
    consent_recorded: "What is recorded: your camera video and microphone audio during the interview.",
    consent_why: "Why: so that the hiring team can review your answers fairly, and so the AI interviewer can transcribe them and ask follow-up questions.",
    consent_who: "Who sees it: only the recruiters and hiring managers for this position. People may watch live; the AI never rejects anyone on its own: a person decides.",
    consent_retention: "How long it is kept: {days} days, then it is deleted. You can ask for deletion earlier.",
    facial_off: "Facial analysis: off for this position. Your video is only recorded, not analysed.",
    facial_integrity_only: "Facial analysis: only whether a face is present and facing the camera (no expressions).",
    facial_full: "Facial analysis: presence, facing the camera and delivery measures such as smiling or blinking rate. Never emotions.",
    consent_recording: "I agree to the recording of video and audio (required for this interview).",
    consent_ai: "I agree to AI analysis (transcription, follow-up questions, delivery measures). Optional.",
    consent_version: "Notice version", continue: "Continue",
    device_title: "Check your camera and microphone", device_intro: "You should see yourself and the bar should move when you speak.",
    mic_level: "Microphone level", join: "Start the interview", retry: "Try again",
    err_denied: "Your browser blocked the camera or microphone. Click the camera icon in the address bar, allow access, then press Try again.",
    err_notfound: "No camera or microphone was found. Plug one in (or enable it in system settings), then press Try again.",
    err_busy: "The camera or microphone is being used by another app. Close it, then press Try again.",
    err_insecure: "This page must be opened over https:// (or on localhost) for the camera to work. Please use the exact link from your invitation.",
    err_generic: "The camera or microphone could not be started:",
    connecting: "Connecting…", connected: "You are connected. The interview will begin shortly.",
    reconnecting: "Connection lost. Reconnecting…", done: "I'm done with this answer", finish: "Finish interview",
    finish_confirm: "Finish the interview now?", ended_title: "Thank you!",
    ended_text: "Your interview is complete. The hiring team will review it and contact you about next steps.",
    waiting_question: "Please wait for the first question.",
    observer_title: "Live interview", timeline: "Timeline", inject: "Ask a question", inject_placeholder: "Type a question for the candidate…",
    send: "Send", unmute: "Unmute", no_video: "Waiting for the candidate's video…", transcript: "Transcript",
    review_title: "Interview review", recordings: "Recording", no_recording: "No recording yet.",
    admin_title: "Interviews", new_interview: "New interview", job_title: "Job title", language: "Language",
    candidate_name: "Candidate name", candidate_email: "Candidate email", create: "Create", invite_link: "Invite link",
    observe: "Observe", review: "Review", status: "Status",
  },
  zh: {
    lang_toggle: "English", sign_in: "登录", email: "邮箱", password: "密码", sign_out: "退出",
    consent_title: "开始之前", consent_intro: "这是以下职位的初轮面试：",
    consent_recorded: "录制内容：面试期间的摄像头视频和麦克风音频。",
    consent_why: "目的：让招聘团队公平地回顾您的回答，并让 AI 面试官转写您的回答、提出追问。",
    consent_who: "谁能看到：仅限该职位的招聘人员和用人经理。可能有人实时观看；AI 不会自行淘汰任何人，最终由人做决定。",
    consent_retention: "保存期限：{days} 天，之后删除。您也可以要求提前删除。",
    facial_off: "面部分析：该职位已关闭。视频只录制，不做分析。",
    facial_integrity_only: "面部分析：仅检测是否有人脸、是否面向镜头（不分析表情）。",
    facial_full: "面部分析：在场、面向镜头，以及微笑、眨眼频率等表达指标。绝不推断情绪。",
    consent_recording: "我同意录制视频和音频（本次面试必需）。",
    consent_ai: "我同意 AI 分析（转写、追问、表达指标）。可选。",
    consent_version: "告知书版本", continue: "继续",
    device_title: "检查摄像头和麦克风", device_intro: "您应能看到自己的画面，说话时音量条会跳动。",
    mic_level: "麦克风音量", join: "开始面试", retry: "重试",
    err_denied: "浏览器阻止了摄像头或麦克风。请点击地址栏中的摄像头图标并允许访问，然后点击“重试”。",
    err_notfound: "未找到摄像头或麦克风。请连接设备（或在系统设置中启用），然后点击“重试”。",
    err_busy: "摄像头或麦克风正被其他应用占用。请关闭该应用后点击“重试”。",
    err_insecure: "需要通过 https://（或 localhost）打开此页面摄像头才能工作。请使用邀请中的原始链接。",
    err_generic: "无法启动摄像头或麦克风：",
    connecting: "正在连接…", connected: "已连接，面试即将开始。",
    reconnecting: "连接中断，正在重新连接…", done: "我回答完了", finish: "结束面试",
    finish_confirm: "现在结束面试吗？", ended_title: "谢谢！",
    ended_text: "您的面试已完成。招聘团队会进行评估，并就后续步骤与您联系。",
    waiting_question: "请稍候，第一个问题马上出现。",
    observer_title: "实时面试", timeline: "时间线", inject: "提问", inject_placeholder: "输入要问候选人的问题…",
    send: "发送", unmute: "取消静音", no_video: "等待候选人的视频…", transcript: "转写",
    review_title: "面试回顾", recordings: "录像", no_recording: "暂无录像。",
    admin_title: "面试列表", new_interview: "新建面试", job_title: "职位名称", language: "语言",
    candidate_name: "候选人姓名", candidate_email: "候选人邮箱", create: "创建", invite_link: "邀请链接",
    observe: "观看", review: "回顾", status: "状态",
  },
};

export let lang = pickLang();

function pickLang() {
  const q = new URLSearchParams(location.search).get("lang");
  const saved = localStorage.getItem("candor.lang");
  const nav = (navigator.language || "en").toLowerCase();
  const l = q || saved || (nav.startsWith("zh") ? "zh" : "en");
  return STRINGS[l] ? l : "en";
}

export function t(key, vars = {}) {
  let s = (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key;
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
  return s;
}

export function setLang(l) {
  lang = STRINGS[l] ? l : "en";
  localStorage.setItem("candor.lang", lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  applyI18n();
}

export function applyI18n(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
}

export function installToggle(button) {
  button.textContent = t("lang_toggle");
  button.addEventListener("click", () => { setLang(lang === "zh" ? "en" : "zh"); button.textContent = t("lang_toggle"); document.dispatchEvent(new Event("langchange")); });
}
