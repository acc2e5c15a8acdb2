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
    sig_face: "Face", sig_faces: "{n} faces", sig_facing: "facing the camera", sig_away: "looking away", sig_smile: "smile",
    ready: "I'm ready", thinking: "Thinking time", time_left: "Time left",
    ask_now: "Ask now", ask_next: "Ask next", approve: "Ask it", skip: "Skip", suggested: "Suggested follow-up",
    notes: "Private notes", add_note: "Save note", rating: "Live rating", plan: "Plan",
    // jobs.html: competency models
    cm_jobs_link: "Jobs & competency models", cm_jobs_title: "Jobs and competency models", cm_model: "Competency model",
    cm_no_jobs: "No jobs yet.", cm_new_job: "New job", cm_none: "none", cm_open: "Open", cm_model_for: "Competency model:",
    cm_read_only: "You can read this model. Only an administrator or the person who created the job can change it.",
    cm_template: "Built-in template", cm_load_template: "Load template", cm_competency: "Competency", cm_weight: "Weight",
    cm_indicators: "Indicators", cm_questions: "Questions", cm_yaml_label: "Model (YAML)", cm_save: "Save",
    cm_download: "Download YAML", cm_upload: "Upload YAML", cm_saved: "Saved.",
    cm_status: "{title}, version {version}, {n} competencies.", cm_no_model: "This job has no competency model yet: load a template or upload YAML.",
    cm_replace_confirm: "Replace the job's current competency model?",
    cm_err_weights: "competency weights must sum to {total}, but they sum to {sum} ({parts})",
    cm_err_no_questions: "competency '{id}' ({name}) has no main questions",
    cm_err_duplicate: "{what} id '{id}' is used more than once",
    cm_err_yaml: "not valid YAML at line {line}, column {column}: {problem}", cm_err_yaml_noline: "not valid YAML: {problem}",
    cm_err_language: "unknown language '{value}': use 'zh' (Mandarin) or 'en' (English)",
    cm_err_id: "id '{value}' must be 1-64 lowercase letters, digits, '_' or '-'",
    cm_err_required: "this field is required", cm_err_extra: "unknown field (check the spelling)",
    cm_err_min_items: "needs at least one item", cm_err_empty: "must not be empty",
    cm_err_gt: "must be greater than {n}", cm_err_le: "must be at most {n}", cm_err_int: "must be a whole number",
    cm_err_type: "has the wrong type (expected {type})", cm_err_mapping: "the model must be a mapping with id, job_title, language, competencies",
    cm_err_language_mismatch: "The job is interviewed in {job} but this model is in {model}. Load the {job} version of the template, or set language: {job} and write the questions in that language.",
    cm_code_forbidden: "Only an administrator or the person who created this job may edit it.",
    cm_code_not_found: "Not found.", cm_code_too_large: "The file is larger than 256 KiB.",
    cm_code_no_such_template: "No such template.", cm_competency_word: "competency", cm_question_word: "question", cm_code_bad_input: "The request was not valid.",
    // review, report, calibration (issue 6)
    rv_report: "Report", rv_pdf: "PDF", rv_scores: "AI scores", rv_total: "Total", rv_scorer: "scorer version",
    rv_insufficient: "insufficient evidence", rv_evidence: "Evidence", rv_human: "human", rv_ai: "AI", rv_diff: "AI − human",
    rv_ind_supported: "supported", rv_ind_mixed: "mixed", rv_ind_against: "counts against", rv_ind_not_addressed: "not addressed",
    rv_focus: "Focus points for the human interview", rv_rate: "Your ratings", rv_rate_scale: "1 = weak, 5 = strong. Recorded with your name and the time.",
    rv_rating_note: "Notes", rv_save_rating: "Save", rv_saved: "Saved", rv_decision: "Decision",
    rv_advance: "Advance", rv_hold: "Hold", rv_reject: "Reject", rv_decision_note: "Reason (recorded with your name and the time)",
    rv_confirm_reject: "Reject this candidate? The decision is recorded with your name and the time.",
    rv_no_score: "Scores appear once the interview has finished.", rv_delivery: "Delivery",
    rv_delivery_legend: "Blue: speaking rate per answer; orange: share of pauses; green: facing the camera. Observable measures only, no emotion inference.",
    rv_delivery_used: "Used in the score with a low weight (enabled for this job).", rv_delivery_not_used: "Not used in the score.",
    rv_marker_question: "question", rv_marker_followup: "follow-up", rv_marker_injected: "observer question",
    rv_speaking_rate: "Speaking rate", rv_pauses: "Pauses", rv_facing: "Facing camera",
    rv_followups: "Follow-ups asked and why", rv_injected: "Questions from observers", rv_ratings_vs_ai: "AI scores and human ratings",
    rv_competency: "Competency", rv_raters: "raters", rv_decisions: "Decisions", rv_none: "None yet.", rv_questions: "Questions",
    rv_outcome_asked: "asked", rv_outcome_skipped: "skipped", rv_outcome_approved: "approved", rv_outcome_suggested: "suggested",
    st_awaiting_review: "Awaiting review", st_advanced: "Advanced", st_on_hold: "On hold", st_rejected: "Rejected",
    cal_title: "Calibration", cal_intro: "Fits this job's scoring weights to human ratings (ridge regression with cross-validation). Past scores never change: a new version scores from now on.",
    cal_run: "Calibrate now", cal_current: "Current scorer version", cal_versions: "Versions", cal_before: "before", cal_after: "after (held-out)",
    cal_n: "n", cal_pearson: "Pearson", cal_spearman: "Spearman", cal_weights: "Weights", cal_min: "Needs human ratings from at least {n} interviews.",
    cal_all: "all competencies", cal_lambda: "regularisation", cal_cv: "cross-validated error",
    // candidate feedback message (docs/feedback.md)
    fb_title: "Message to the candidate", fb_intro: "Optional, encouraging feedback without scores or any hint of the decision. Drafted from the evidence; nothing is sent until you press Send.",
    fb_send: "Send to the candidate", fb_confirm: "Email this message to the candidate? It is recorded with your name and the time.",
    fb_not_configured: "Email is not configured on this server: the message will be stored, not sent.", fb_no_address: "The candidate has no email address: the message will be stored, not sent.",
    fb_already: "A message was already sent to this candidate.", fb_history: "Messages", fb_edited: "edited",
    fb_status_sent: "Sent", fb_status_not_sent: "Not sent", fb_status_failed: "Not sent (error)",
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
    sig_face: "人脸", sig_faces: "{n} 张人脸", sig_facing: "面向镜头", sig_away: "未看镜头", sig_smile: "微笑",
    ready: "我准备好了", thinking: "思考时间", time_left: "剩余时间",
    ask_now: "立即提问", ask_next: "下一个问", approve: "提问", skip: "跳过", suggested: "建议追问",
    notes: "私人笔记", add_note: "保存笔记", rating: "实时评分", plan: "面试计划",
    // jobs.html：胜任力模型
    cm_jobs_link: "职位与胜任力模型", cm_jobs_title: "职位与胜任力模型", cm_model: "胜任力模型",
    cm_no_jobs: "还没有职位。", cm_new_job: "新建职位", cm_none: "无", cm_open: "打开", cm_model_for: "胜任力模型：",
    cm_read_only: "您可以查看此模型。只有管理员或职位创建者可以修改。",
    cm_template: "内置模板", cm_load_template: "载入模板", cm_competency: "胜任力", cm_weight: "权重",
    cm_indicators: "行为指标", cm_questions: "问题", cm_yaml_label: "模型（YAML）", cm_save: "保存",
    cm_download: "下载 YAML", cm_upload: "上传 YAML", cm_saved: "已保存。",
    cm_status: "{title}，第 {version} 版，共 {n} 项胜任力。", cm_no_model: "该职位还没有胜任力模型：请载入模板或上传 YAML。",
    cm_replace_confirm: "替换该职位当前的胜任力模型吗？",
    cm_err_weights: "各项胜任力权重之和必须为 {total}，目前为 {sum}（{parts}）",
    cm_err_no_questions: "胜任力 '{id}'（{name}）没有主问题",
    cm_err_duplicate: "{what} id '{id}' 重复使用",
    cm_err_yaml: "YAML 格式错误：第 {line} 行第 {column} 列：{problem}", cm_err_yaml_noline: "YAML 格式错误：{problem}",
    cm_err_language: "未知语言 '{value}'：请使用 'zh'（普通话）或 'en'（英语）",
    cm_err_id: "id '{value}' 必须是 1-64 个小写字母、数字、'_' 或 '-'",
    cm_err_required: "此字段为必填项", cm_err_extra: "未知字段（请检查拼写）",
    cm_err_min_items: "至少需要一项", cm_err_empty: "不能为空",
    cm_err_gt: "必须大于 {n}", cm_err_le: "不能超过 {n}", cm_err_int: "必须是整数",
    cm_err_type: "类型不正确（应为 {type}）", cm_err_mapping: "模型必须是包含 id、job_title、language、competencies 的映射",
    cm_err_language_mismatch: "该职位的面试语言是 {job}，但此模型的语言是 {model}。请载入模板的 {job} 版本，或将 language 设为 {job} 并用该语言编写问题。",
    cm_code_forbidden: "只有管理员或职位创建者可以修改。",
    cm_code_not_found: "未找到。", cm_code_too_large: "文件超过 256 KiB。",
    cm_code_no_such_template: "没有这个模板。", cm_competency_word: "胜任力", cm_question_word: "问题", cm_code_bad_input: "请求无效。",
    // 回顾、报告、校准（issue 6）
    rv_report: "报告", rv_pdf: "PDF", rv_scores: "AI 评分", rv_total: "总分", rv_scorer: "评分版本",
    rv_insufficient: "证据不足", rv_evidence: "证据", rv_human: "人工", rv_ai: "AI", rv_diff: "AI − 人工",
    rv_ind_supported: "有支持", rv_ind_mixed: "有支持也有不利", rv_ind_against: "不利", rv_ind_not_addressed: "未涉及",
    rv_focus: "人工面试重点", rv_rate: "您的评分", rv_rate_scale: "1 = 弱，5 = 强。评分会记录您的姓名和时间。",
    rv_rating_note: "备注", rv_save_rating: "保存", rv_saved: "已保存", rv_decision: "决定",
    rv_advance: "进入下一轮", rv_hold: "待定", rv_reject: "不通过", rv_decision_note: "理由（会记录您的姓名和时间）",
    rv_confirm_reject: "确定不通过该候选人吗？此决定会记录您的姓名和时间。",
    rv_no_score: "面试结束后才会显示评分。", rv_delivery: "表达",
    rv_delivery_legend: "蓝色：每个回答的语速；橙色：停顿占比；绿色：面向镜头。仅为可观察的指标，不推断情绪。",
    rv_delivery_used: "以低权重计入评分（本岗位已启用）。", rv_delivery_not_used: "不计入评分。",
    rv_marker_question: "问题", rv_marker_followup: "追问", rv_marker_injected: "观察者提问",
    rv_speaking_rate: "语速", rv_pauses: "停顿", rv_facing: "面向镜头",
    rv_followups: "追问及原因", rv_injected: "观察者提出的问题", rv_ratings_vs_ai: "AI 评分与人工评分",
    rv_competency: "能力", rv_raters: "位评分人", rv_decisions: "决定记录", rv_none: "暂无。", rv_questions: "问题",
    rv_outcome_asked: "已提问", rv_outcome_skipped: "已跳过", rv_outcome_approved: "已批准", rv_outcome_suggested: "仅建议",
    st_awaiting_review: "待评估", st_advanced: "进入下一轮", st_on_hold: "待定", st_rejected: "不通过",
    cal_title: "校准", cal_intro: "根据人工评分拟合本岗位的评分权重（带交叉验证的岭回归）。过去的评分不会改变：新版本只用于之后的评分。",
    cal_run: "立即校准", cal_current: "当前评分版本", cal_versions: "版本", cal_before: "校准前", cal_after: "校准后（留出验证）",
    cal_n: "样本数", cal_pearson: "Pearson", cal_spearman: "Spearman", cal_weights: "权重", cal_min: "需要至少 {n} 场面试的人工评分。",
    cal_all: "全部能力", cal_lambda: "正则化强度", cal_cv: "交叉验证误差",
    // 给候选人的反馈消息（docs/feedback.md）
    fb_title: "给候选人的消息", fb_intro: "可选的鼓励性反馈，不含分数，也不暗示决定。根据证据起草；点击发送前不会发出。",
    fb_send: "发送给候选人", fb_confirm: "通过电子邮件把这条消息发给候选人吗？发送会记录您的姓名和时间。",
    fb_not_configured: "本服务器未配置电子邮件：消息会被保存，但不会发出。", fb_no_address: "候选人没有电子邮件地址：消息会被保存，但不会发出。",
    fb_already: "已经给这位候选人发送过消息。", fb_history: "消息记录", fb_edited: "已修改",
    fb_status_sent: "已发送", fb_status_not_sent: "未发送", fb_status_failed: "未发送（出错）",
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
